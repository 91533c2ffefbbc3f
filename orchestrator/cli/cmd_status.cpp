// avpnctl status [--json] [--state-dir DIR] [--vici-socket PATH] [--listen S]:
// the state of the site's interop tunnels as charon reports them (list-sas),
// with the last failure in words. Failures are events of one moment: apply
// records those it sees while settling, and --listen S watches charon's log
// for S seconds now; both go to the state directory (docs/vici.md).
// AutoVPN groups, briefly: each WireGuard interface avpn owns, its peers' last
// handshake and byte counters (the backend the interface runs on: a UAPI
// socket if it has one, else the kernel; nothing is started).
// Read-only towards the kernel and charon; takes no lock.
#include <algorithm>
#include <ctime>
#include <iostream>
#include <set>
#include <sstream>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/runtime/scope.hpp"
#include "plugins/wireguard/daemon_record.hpp"
#include "plugins/wireguard/select.hpp"

namespace avpn::cli {

namespace {

struct StatusArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    int listen = 0;
    bool json = false;
};

std::string clock_time(int64_t unix_time) {
    char buf[32];
    std::time_t t = std::time_t(unix_time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string tunnel_text(const vici::TunnelStatus& t) {
    std::ostringstream o;
    o << "  " << tunnel_line(t) << "\n";
    if (t.established_seconds >= 0)
        o << "    established " << clock_time(t.established_since) << " (" << t.established_seconds << " s ago)"
          << ", IKE_SA #" << t.ike_id << (t.initiator ? " (initiator)" : " (responder)") << "\n";
    if (!t.local_host.empty())
        o << "    " << t.local_host << ":" << t.local_port << " -> " << t.remote_host << ":" << t.remote_port
          << (t.nat_local ? ", this end behind a NAT" : ", no NAT on this side") << (t.udp_encap ? ", ESP in UDP" : "")
          << "\n";
    if (t.child_state != "DOWN")
        o << "    SPIs in " << t.spi_in << " out " << t.spi_out << "; in " << t.bytes_in << " bytes / " << t.packets_in
          << " packets, out " << t.bytes_out << " bytes / " << t.packets_out << " packets\n";
    if (t.ike_rekey_in >= 0 || t.child_rekey_in >= 0)
        o << "    next rekey: IKE " << (t.ike_rekey_in >= 0 ? "in " + std::to_string(t.ike_rekey_in) + " s" : "none")
          << ", CHILD " << (t.child_rekey_in >= 0 ? "in " + std::to_string(t.child_rekey_in) + " s" : "none") << "\n";
    if (!t.last_failure.empty())
        o << "    last failure " << clock_time(t.last_failure_at) << ": " << t.last_failure << " (charon: "
          << t.last_failure_detail << ")\n";
    if (t.next_attempt_at != 0) {
        int64_t in = std::max<int64_t>(0, t.next_attempt_at - int64_t(std::time(nullptr)));
        o << "    next attempt " << clock_time(t.next_attempt_at) << " (in " << in << " s), by avpnd; "
          << t.retry_attempts << " attempt" << (t.retry_attempts == 1 ? "" : "s") << " so far\n";
    }
    return o.str();
}

struct WgGroupStatus {
    std::string ifname, backend;
    wg::WgDeviceStatus status;
    std::optional<wg::DaemonRecord> daemon;  // userspace: its wireguard-go
};

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

std::string daemon_text(const wg::DaemonRecord& d) {
    std::ostringstream o;
    o << ", wireguard-go pid " << d.pid;
    if (d.restarts > 0)
        o << ", restarted " << d.restarts << " time" << (d.restarts == 1 ? "" : "s") << ", last exit " << d.last_exit
          << " at " << clock_time(d.last_exit_at);
    return o.str();
}

void wireguard_json(JsonWriter& w, const std::vector<WgGroupStatus>& groups) {
    w.key("wireguard").begin_array();
    for (const auto& g : groups) {
        w.begin_object().field("interface", g.ifname).field("backend", g.backend);
        w.key("daemon");
        if (g.daemon)
            w.begin_object().field("pid", int64_t(g.daemon->pid)).field("restarts", int64_t(g.daemon->restarts))
                .field("last_exit", g.daemon->last_exit).field("last_exit_at", g.daemon->last_exit_at).end_object();
        else
            w.null();
        w.field("public_key", g.status.device.public_key).key("peers").begin_array();
        for (const auto& p : g.status.peers) {
            w.begin_object().field("public_key", p.public_key).field("last_handshake", p.last_handshake_sec);
            w.field("rx_bytes", p.rx_bytes).field("tx_bytes", p.tx_bytes).end_object();
        }
        w.end_array().end_object();
    }
    w.end_array();
}

std::string wireguard_text(const std::vector<WgGroupStatus>& groups, int64_t now) {
    std::ostringstream o;
    for (const auto& g : groups) {
        o << "wireguard " << g.ifname << " (" << g.backend << (g.daemon ? daemon_text(*g.daemon) : "") << "), "
          << g.status.peers.size() << " peer"
          << (g.status.peers.size() == 1 ? "" : "s") << ":\n";
        for (const auto& p : g.status.peers) {
            o << "  " << p.public_key << ": ";
            if (p.last_handshake_sec == 0) o << "no handshake yet";
            else o << "last handshake " << (now - p.last_handshake_sec) << " s ago";
            o << ", rx " << p.rx_bytes << " bytes, tx " << p.tx_bytes << " bytes\n";
        }
    }
    return o.str();
}

int run_status(const StatusArgs& a) {
    StateDir state(a.state_dir);
    auto last = state.load();
    if (!last) return report_failure("status", last.error());

    std::optional<Error> ipsec_error;
    std::vector<vici::TunnelStatus> tunnels;
    const bool has_ipsec = !last->ipsec_connections.empty();
    if (has_ipsec) {
        auto charon = runtime::connect_charon(a.vici_socket);
        if (!charon) {
            ipsec_error = charon.error();
        } else {
            auto st = runtime::ipsec_status(**charon, last->ipsec_connections, a.state_dir, a.listen);
            if (st) tunnels = std::move(*st);
            else ipsec_error = st.error();
        }
    }

    const std::vector<WgGroupStatus> groups = wireguard_status(last->owned.links, a.state_dir);
    if (a.json) {
        JsonWriter w;
        w.begin_object().field("schema", "avpn.status/1").field("site", last->site).field("state_dir", a.state_dir);
        w.key("ipsec");
        if (!has_ipsec) {
            w.null();
        } else {
            w.begin_object().field("socket", a.vici_socket).key("error");
            if (ipsec_error)
                w.begin_object().field("what", ipsec_error->what).field("where", ipsec_error->where)
                    .field("why", ipsec_error->why).end_object();
            else
                w.null();
            w.key("tunnels").begin_array();
            for (const auto& t : tunnels) vici::to_json(w, t);
            w.end_array().end_object();
        }
        wireguard_json(w, groups);
        w.end_object();
        std::cout << w.str();
    } else {
        std::cout << "site " << (last->site.empty() ? "(nothing applied)" : last->site) << "\n";
        if (!has_ipsec) std::cout << "ipsec: no tunnels\n";
        else if (ipsec_error) std::cout << "ipsec: " << ipsec_error->str() << "\n";
        else {
            std::cout << "ipsec (charon at " << a.vici_socket << "):\n";
            for (const auto& t : tunnels) std::cout << tunnel_text(t);
        }
        std::cout << wireguard_text(groups, int64_t(std::time(nullptr)));
    }
    return ipsec_error ? int(kFailed) : int(kOk);
}

}  // namespace

Handler setup_status(CLI::App& sub) {
    auto a = std::make_shared<StatusArgs>();
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.status/1, docs/cli.md)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket")->capture_default_str();
    sub.add_option("--listen", a->listen, "watch charon's log this many seconds for failures first")
        ->capture_default_str()
        ->check(CLI::Range(0, 600));
    return [a] { return run_status(*a); };
}

}  // namespace avpn::cli
