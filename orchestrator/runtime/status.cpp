#include "orchestrator/runtime/status.hpp"

#include <algorithm>
#include <cstdlib>

#include "plugins/firewall/nft_table.hpp"

#include <set>

#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/runtime/load.hpp"
#include "plugins/wireguard/select.hpp"
#include "plugins/wireguard/wireguard_go.hpp"

namespace avpn::runtime {

namespace {

// Interfaces that are not WireGuard devices (XFRM interfaces) answer with an
// error and are left out: the state directory records names, not kinds.
// A wireguard-go's pid is read from its socket (right with or without
// avpnd); its restarts come from avpnd's record.
std::vector<WgGroupStatus> wireguard_status(const std::set<std::string>& links, const std::string& state_dir) {
    std::vector<WgGroupStatus> out;
    const auto records = wg::load_daemon_records(wg::daemon_record_path(state_dir));
    for (const std::string& ifname : links) {
        auto sel = wg::select_backend(ifname, wg::BackendPreference::automatic, wg::SelectOptions{});
        if (!sel) continue;
        auto st = sel->backend->status(ifname);
        if (!st) continue;
        WgGroupStatus g{ifname, std::string(sel->backend->name()), std::move(*st), std::nullopt};
        if (g.backend == "userspace") {
            auto r = records.find(ifname);
            g.daemon = r == records.end() ? wg::DaemonRecord{} : r->second;
            auto pid = wg::running_wireguard_go(ifname, wg::kUapiSocketDir);
            g.daemon->pid = pid ? *pid : 0;
        }
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace

Result<SiteStatus> gather_status(const std::string& state_dir, const std::string& vici_socket, int listen_seconds) {
    SiteStatus s;
    s.state_dir = state_dir;
    s.vici_socket = vici_socket;
    StateDir state(state_dir);
    auto last = state.load();
    if (!last) return last.error();
    s.last = std::move(*last);

    s.has_ipsec = !s.last.ipsec_connections.empty();
    if (s.has_ipsec) {
        auto charon = connect_charon(vici_socket);
        if (!charon) {
            s.ipsec_error = charon.error();
        } else {
            auto st = ipsec_status(**charon, s.last.ipsec_connections, state_dir, listen_seconds);
            if (st) s.tunnels = std::move(*st);
            else s.ipsec_error = st.error();
        }
    }
    s.wireguard = wireguard_status(s.last.owned.links, state_dir);
    s.firewall = firewall_status();
    return s;
}

FirewallStatus firewall_status() {
    FirewallStatus f;
    auto table = fw::NftTable::open();
    if (!table) return f.error = table.error(), f;
    auto present = (*table)->present();
    if (!present) return f.error = present.error(), f;
    if (!(f.present = *present)) return f;
    auto counters = (*table)->counters();
    if (!counters) return f.error = counters.error(), f;
    // rule-1, rule-2, ..., rule-10 by number, then the default drop.
    auto rank = [](const std::string& name) -> long {
        if (name.rfind("rule-", 0) == 0) return std::strtol(name.c_str() + 5, nullptr, 10);
        return name == "default-drop" ? 1L << 40 : (1L << 40) + 1;
    };
    for (auto& [name, value] : *counters) f.counters.emplace_back(name, value);
    std::stable_sort(f.counters.begin(), f.counters.end(),
                     [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
    return f;
}

Result<std::vector<PeerRow>> planned_peer_rows(const std::string& config_path,
                                               const std::vector<WgGroupStatus>& wireguard) {
    LoadedSite loaded = load_site(config_path, LoadFor::member);
    if (!loaded.intent) {
        std::string why = "it has errors";
        if (!loaded.errors.empty()) why += " (first: " + loaded.errors.front().str() + ")";
        return Error{"name the peers", config_path, why + "; `avpnctl check " + config_path + "` shows them"};
    }
    planner::SitePieces pieces = planner::decide(*loaded.intent, PlanInputs{});
    std::vector<PeerRow> rows = peer_rows(*loaded.intent, pieces);
    std::map<std::string, wg::WgDeviceStatus> devices;
    for (const WgGroupStatus& g : wireguard) devices.emplace(g.ifname, g.status);
    add_wireguard(rows, devices);
    return rows;
}

}  // namespace avpn::runtime
