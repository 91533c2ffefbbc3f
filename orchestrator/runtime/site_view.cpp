#include "orchestrator/runtime/site_view.hpp"

#include <algorithm>
#include <ctime>
#include <tuple>

namespace avpn::runtime {

namespace {

// The probes to each peer's endpoint through the uplink the tunnels use
// (the first active one; none while every uplink is down).
void add_probes(const Site& site, std::vector<PeerRow>& rows) {
    const UplinkSelector* selector = site.uplink_selector();
    if (!selector) return;
    const std::vector<std::string> active = selector->active();
    if (active.empty()) return;
    for (PeerRow& r : rows) {
        if (!r.direct || !r.endpoint) continue;
        auto st = site.uplink_prober().target_stats(active.front(), r.endpoint->addr);
        if (!st) continue;
        r.probe_uplink = active.front();
        r.probes = st->probes;
        r.probes_lost = st->lost;
        if (st->latency) r.probe_latency_ms = double(st->latency->count()) / 1000.0;
    }
}

// The shortcut keeper's view of the spokes with no shortcut running: held
// (and how long yet) or idle, and why not (docs/shortcuts.md).
void add_shortcuts(const Site& site, std::vector<PeerRow>& rows) {
    if (!site.has_shortcuts()) return;
    std::map<std::pair<std::string, std::string>, ShortcutKeeper::Row> kept;
    for (ShortcutKeeper::Row& k : site.shortcut_status()) kept.emplace(k.key, std::move(k));
    for (PeerRow& r : rows) {
        auto k = kept.find({r.group, r.site});
        if (k == kept.end() || !r.shortcut.empty()) continue;
        if (k->second.state != "idle" && k->second.state != "held") continue;
        r.shortcut_idle = k->second.state;
        r.shortcut_why = k->second.why;
        if (k->second.for_ms) r.shortcut_for_ms = k->second.for_ms->count();
    }
}

}  // namespace

std::vector<PeerRow> site_peer_rows(const Site& site, const std::map<std::string, wg::WgDeviceStatus>& devices) {
    const planner::SitePieces* pieces = site.committed();
    if (!pieces || site.idle()) return {};
    std::vector<PeerRow> rows = peer_rows(site.intent(), *pieces);
    add_wireguard(rows, devices);
    if (site.has_xfrm()) {
        std::map<std::tuple<std::string, std::string, uint8_t>, XfrmKeying::PeerStatus> keyed;
        for (XfrmKeying::PeerStatus& s : site.keying_status())
            keyed.emplace(std::tuple(s.group, s.peer, s.path), std::move(s));
        const int64_t now = int64_t(std::time(nullptr));
        for (PeerRow& r : rows) {
            if (!r.direct || r.transport != "xfrm") continue;
            auto it = keyed.find({r.group, r.site, 0});
            if (it == keyed.end()) continue;
            r.up = it->second.up;
            r.handshake_age = it->second.handshake_age_s;
            // Active-active: each further path's own key exchange.
            for (size_t i = 0; i < r.paths.size(); ++i) {
                auto path = keyed.find({r.group, r.site, uint8_t(i + 1)});
                if (path == keyed.end()) continue;
                const auto& age = path->second.handshake_age_s;
                r.paths[i].last_handshake = age ? now - *age : 0;
            }
        }
    }
    add_probes(site, rows);
    add_shortcuts(site, rows);
    return rows;
}

std::vector<DaemonFacts::Uplink> site_uplinks(const Site& site) {
    std::vector<DaemonFacts::Uplink> out;
    const Intent& in = site.intent();
    const UplinkSelector* selector = site.uplink_selector();
    // With no uplink healthy the plan falls back to the first with an
    // address (planner.hpp, active_uplinks), and so does this view.
    const bool selected = selector && !selector->active().empty();
    bool active_found = false;
    for (size_t i = 0; i < in.site.uplinks.size(); ++i) {
        DaemonFacts::Uplink u;
        u.name = in.site.uplinks[i].interface;
        if (auto a = site.uplink_addresses().find(u.name); a != site.uplink_addresses().end()) u.address = a->second;
        if (const UplinkHealth* h = selector ? selector->health(u.name) : nullptr) {
            u.healthy = h->up();
            u.why = h->why();
            const UplinkStats st = h->stats();
            u.probes = st.probes;
            u.lost = st.lost;
            if (st.latency) u.latency_ms = double(st.latency->count()) / 1000.0;
        }
        u.probe_problem = site.uplink_prober().send_problem(u.name);
        if (auto p = site.probe_problems().find(u.name); p != site.probe_problems().end()) u.probe_problem = p->second;
        if (selected)
            u.active = selector->is_active(u.name);
        else  // failover = false: only the first is ever used, with or without an address
            u.active = !active_found && (in.site.failover ? u.address.has_value() : i == 0);
        active_found |= u.active;
        out.push_back(std::move(u));
    }
    return out;
}

void site_registries(const Site& site, DaemonFacts& facts) {
    const auto now = registry::Clock::now();
    for (const RegistryClients::RegistryStatus& s : site.registry().status(now)) {
        DaemonFacts::Registry r;
        r.group = s.group;
        r.endpoint = s.endpoint.str();
        r.reachable = s.reachable;
        if (s.last_answer_age) r.last_answer_age_ms = s.last_answer_age->count();
        if (s.observed) r.observed = s.observed->str();
        r.handshakes = s.handshakes;
        r.rejected = s.rejected;
        if (auto p = site.registry_problems().find(s.group); p != site.registry_problems().end()) r.problem = p->second;
        facts.registries.push_back(std::move(r));
    }
    for (const RegistryClients::NatType& n : site.registry().nat_types(now))
        facts.nat.push_back(DaemonFacts::Nat{n.group, n.uplink, n.type, n.active, n.filtering});
}

}  // namespace avpn::runtime
