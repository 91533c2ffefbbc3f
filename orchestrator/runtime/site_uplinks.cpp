// The site's uplinks in avpnd (docs/uplinks.md): every converge reads each
// uplink's carrier, address and default routes from the kernel, the
// selector decides which uplinks carry the tunnels, and the plan steers
// them there. A link, address or main-table route event on an uplink
// converges (drift.hpp), so a carrier loss moves the tunnels within the
// drift debounce and one apply; a held failback falls due at
// uplink_check_at().
#include <algorithm>
#include <ctime>
#include <utility>

#include "orchestrator/plan/routing.hpp"
#include "orchestrator/runtime/conntrack_sweep.hpp"
#include "orchestrator/runtime/site.hpp"

namespace avpn::runtime {

namespace {

// Probe losses count once a target has answered (set_probing): until
// then link facts alone decide health.
UplinkRules link_fact_rules() {
    UplinkRules r;
    r.probing = false;
    return r;
}

// What the uplinks are probed against: the contacts of the hubs this site
// tunnels to (a spoke's hubs, a hub's fellow hubs), in every AutoVPN group,
// and the groups' registries. A hub without a static contact is probed at
// the contact the registries gave for it, once there is one.
std::vector<IpAddr> probe_targets(const Intent& in, const std::map<RegistryClients::ContactKey, Endpoint>& learned) {
    std::vector<IpAddr> out;
    for (const Group& g : in.groups) {
        for (const Member& m : g.members) {
            if (m.role != Role::hub) continue;
            const bool mine = in.site.role == Role::hub ||
                              std::any_of(g.hubs.begin(), g.hubs.end(), [&](const HubRef& h) { return h.name == m.name; });
            if (!mine) continue;
            if (m.contact) {
                out.push_back(m.contact->addr);
            } else if (auto it = learned.find({g.name, m.name}); it != learned.end()) {
                out.push_back(it->second.addr);
            }
        }
        for (const RegistryPin& r : g.registries)
            if (std::find(out.begin(), out.end(), r.endpoint.addr) == out.end()) out.push_back(r.endpoint.addr);
    }
    return out;
}

// With active_active every healthy uplink carries its own paths: a switch
// is one uplink leaving (its paths go to the first one left) or rejoining.
std::string switch_line(const UplinkSwitch& s, bool active_active) {
    std::string from = s.from.empty() ? "none" : s.from, to = s.to.empty() ? "none" : s.to;
    if (active_active && s.from.empty()) return "paths of " + to + " back on it (" + s.why + ")";
    if (active_active) return "paths of " + from + " moved to " + to + " (" + s.why + ")";
    return "tunnels moved from " + from + " to " + to + " (" + (s.failback ? "failback: " : "") + s.why + ")";
}

long long ms(std::chrono::nanoseconds d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

void Site::follow_intent_uplinks() {
    std::vector<std::string> names;
    for (const Uplink& u : intent_->site.uplinks) names.push_back(u.interface);
    const UplinkSelectorMode mode{intent_->site.failover, intent_->site.active_active};
    prober_.set_targets(probe_targets(*intent_, registry_.contacts()));
    if (uplinks_ && prober_.targets().empty()) uplinks_->set_probing(false, UplinkClock::now());
    if (uplinks_ && uplinks_->names() == names && uplink_mode_.failover == mode.failover &&
        uplink_mode_.active_active == mode.active_active)
        return;  // a reload that keeps the uplinks keeps their health and history
    uplinks_ = std::make_unique<UplinkSelector>(std::move(names), link_fact_rules(), mode);
    uplink_mode_ = mode;
    uplink_switches_seen_ = 0;
}

// A socket per uplink with an address, bound to it; one that cannot be
// opened (no CAP_NET_RAW) is logged once per reason and leaves that uplink
// on its link facts.
void Site::open_probes() {
    std::map<std::string, IpAddr> addresses;
    for (const auto& [name, f] : *uplink_facts_)
        if (f.address) addresses[name] = *f.address;
    std::map<std::string, std::string> problems;
    for (const auto& [uplink, e] : prober_.set_uplinks(addresses)) {
        problems[uplink] = e.str();
        if (probe_problems_[uplink] != e.str()) log_("uplink: no probes through " + uplink + ": " + e.str());
    }
    probe_problems_ = std::move(problems);
}

std::optional<std::chrono::steady_clock::time_point> Site::probe_at() const {
    if (idle_ || !uplinks_) return std::nullopt;
    return prober_.next_at();
}

bool Site::probe_tick() {
    if (idle_ || !uplinks_) return false;
    return feed_probes(prober_.tick(UplinkClock::now()));
}

bool Site::probe_readable() {
    if (idle_ || !uplinks_) {
        (void)prober_.readable(UplinkClock::now());  // drained, so poll does not spin
        return false;
    }
    return feed_probes(prober_.readable(UplinkClock::now()));
}

// Each verdict into the selector; losses count from the first answer any
// target gave (UplinkHealth::set_probing).
bool Site::feed_probes(const UplinkProber::Verdicts& verdicts) {
    const auto now = UplinkClock::now();
    bool moved = false;
    for (const auto& [name, result] : verdicts) moved |= uplinks_->add_probe(name, result, now);
    if (prober_.answered_once() && !uplinks_->probing()) {
        log_("uplink: probe targets answer; lost probes now count against an uplink");
        moved |= uplinks_->set_probing(true, now);
    }
    if (moved) note_uplink_switches();
    return moved;
}

void Site::note_uplink_event(Clock::time_point at) {
    if (!uplink_event_at_ || at < *uplink_event_at_) uplink_event_at_ = at;
}

// The facts are dated when the kernel's event about them arrived (a
// converge runs after the drift debounce), so a failure counts from then.
void Site::feed_uplinks(const std::map<std::string, UplinkFacts>& facts) {
    const auto now = UplinkClock::now();
    const auto learned = std::min(uplink_event_at_.value_or(now), now);
    uplink_event_at_.reset();
    for (const std::string& name : uplinks_->names()) {
        auto it = facts.find(name);
        const UplinkFacts* f = it == facts.end() ? nullptr : &it->second;
        uplinks_->set_carrier(name, f && f->carrier, learned);
        uplinks_->set_address(name, f && f->address, learned);
        uplinks_->set_default_route(name, f && !f->default_routes.empty(), learned);
    }
    uplinks_->tick(now);
    note_uplink_switches();
}

void Site::note_uplink_switches() {
    const auto& kept = uplinks_->switches();
    const uint64_t fresh = std::min<uint64_t>(uplinks_->recorded() - uplink_switches_seen_, kept.size());
    for (size_t i = kept.size() - fresh; i < kept.size(); ++i) {
        const std::string line = switch_line(kept[i], intent_->site.active_active);
        log_("uplink: " + line);
        events_.add(std::time(nullptr), "uplink", line);
        if (!kept[i].failback && !kept[i].from.empty()) failover_to_apply_ = kept[i];
        announce_to_apply_ = true;
        // Only a move leaves entries on another uplink: not the first
        // uplink at start, nor one after none worked.
        if (!kept[i].from.empty()) {
            sweep_to_ = kept[i].to;
            for (const auto& [name, address] : uplink_addresses_) sweep_addresses_.insert(address);
        }
    }
    uplink_switches_seen_ = uplinks_->recorded();
}

// After a successful converge: a failover it carried out is done now, and
// the XFRM peers hear from the new uplink at once (XfrmKeying::announce):
// their SAs towards this site follow the authenticated source. The stale
// conntrack entries go last: the tunnels' packets already leave the new
// uplink under a tuple of its own, and the peers should not wait for a dump.
void Site::note_failover_applied() {
    if (announce_to_apply_ && !keyed_.empty()) {
        announce_to_apply_ = false;
        send_keying(keying_->announce(keying::Clock::now()).sends);
    }
    if (failover_to_apply_) {
        last_failover_ = Clock::now() - failover_to_apply_->failed_since;
        // The registries have seen the new mapping already: configure_registry
        // follows the uplink after every converge (follow_uplink).
        log_("uplink: tunnels on " + (failover_to_apply_->to.empty() ? std::string("none") : failover_to_apply_->to) +
             " " + std::to_string(ms(*last_failover_)) + " ms after " + failover_to_apply_->from + " failed");
        failover_to_apply_.reset();
    }
    if (sweep_to_) sweep_conntrack();
}

// Entries of avpn's tunnel traffic not on the uplink the tunnels moved to
// (conntrack_sweep.hpp). With every uplink down there is no path to keep,
// so nothing is deleted; neither when the new uplink's address is unknown.
void Site::sweep_conntrack() {
    const std::string to = *std::exchange(sweep_to_, std::nullopt);
    TunnelPath path;
    path.uplink_addresses = std::exchange(sweep_addresses_, {});
    if (to.empty() || !uplink_facts_) return;
    const auto active = uplink_facts_->find(to);
    if (active == uplink_facts_->end() || !active->second.address) return;
    path.active = *active->second.address;
    for (const auto& [name, f] : *uplink_facts_)
        if (f.address) path.uplink_addresses.insert(*f.address);
    for (const Group& g : intent_->groups)  // path i's devices listen on listen_port + i (active-active)
        for (uint32_t i = 0; i < most_paths(g) && g.listen_port + i <= 65535; ++i) path.ports.insert(uint16_t(g.listen_port + i));
    if (path.ports.empty()) return;
    SweepResult r = sweep_stale_tunnel_entries(path);
    if (r.unavailable) {
        if (!conntrack_unavailable_logged_)
            log_("conntrack: not available here (" + *r.unavailable + "): no stale entry to flush after a switch");
        conntrack_unavailable_logged_ = true;
        return;
    }
    for (const Error& e : r.errors) log_("conntrack: " + e.str());
    for (const std::string& e : r.deleted_entries) log_("conntrack: deleted " + e);
    const std::string line = "conntrack: " + std::to_string(r.deleted) + " entr" + (r.deleted == 1 ? "y" : "ies") +
                             " of the tunnels not on " + to + " deleted";
    log_("uplink: " + line);
    if (r.deleted) events_.add(std::time(nullptr), "uplink", line);
}

// The kernel is read again for a full converge, after an event about an
// uplink, or when the uplinks are others than those read; a change of the
// peers (a handshake's SAs at a busy hub, a reload) reuses the last read:
// the main table can be large on a router, and every fact of an uplink
// changes only with an event avpnd watches (drift.hpp).
Result<PlanInputs> Site::read_inputs(bool full) {
    const std::vector<std::string> names = uplinks_of(*intent_);
    if (full || !uplink_facts_ || uplink_event_at_ || names != uplink_facts_names_) {
        auto facts = port_->uplink_facts(names);
        if (!facts) return facts.error();
        uplink_facts_ = std::move(*facts);
        uplink_facts_names_ = names;
        scope_.uplink_ifindexes.clear();
        for (const auto& [name, f] : *uplink_facts_) scope_.uplink_ifindexes.insert(f.ifindex);
        feed_uplinks(*uplink_facts_);
    }
    // A hub's contact from the registries is a target as soon as it is
    // known (a no-op while the targets stay the same).
    prober_.set_targets(probe_targets(*intent_, registry_.contacts()));
    open_probes();  // cheap when nothing changed; a reload may have new targets
    PlanInputs inputs;
    // XFRM SAs come from avpnd's key exchange (xfrm_keying.hpp adds its sessions).
    inputs.xfrm_handshake = true;
    for (const auto& [name, f] : *uplink_facts_) {
        if (f.address) inputs.uplink_addresses[name] = *f.address;
        if (!f.default_routes.empty()) inputs.uplink_default_routes[name] = f.default_routes;
    }
    inputs.active_uplinks = uplinks_->active();
    inputs.contacts = registry_.contacts();
    for (const auto& [key, at] : wireguard_roams_) inputs.roamed[key] = at;
    inputs.shortcuts = shortcuts_.states();
    return inputs;
}

std::optional<IpAddr> Site::keying_source(Family family) const {
    if (!uplinks_ || !uplink_facts_) return std::nullopt;
    // As the plan picks the SAs' local address: the active uplinks while it
    // steers, else the uplinks in order.
    const std::vector<std::string> active = uplinks_->active();
    const bool steering = uplink_mode_.failover && uplinks_->names().size() >= 2 && !active.empty();
    for (const std::string& name : steering ? active : uplinks_->names())
        if (auto f = uplink_facts_->find(name); f != uplink_facts_->end() && f->second.address &&
                                                f->second.address->family == family)
            return f->second.address;
    return std::nullopt;
}

std::optional<IpAddr> Site::keying_source(const std::string& group, uint8_t path, Family family) const {
    if (path == 0) return keying_source(family);
    if (const planner::SitePieces* pieces = planner_.committed())
        for (const planner::GroupPieces& g : pieces->groups)
            if (g.constants.group == group && path < g.constants.path_uplinks.size())
                return planner::preferred_uplink_address(g.constants.path_uplinks[path], family);
    return keying_source(family);
}

std::optional<std::chrono::steady_clock::time_point> Site::uplink_check_at() const {
    if (idle_ || !uplinks_) return std::nullopt;
    return uplinks_->next_check(UplinkClock::now());
}

bool Site::uplink_tick() {
    if (idle_ || !uplinks_ || !uplinks_->tick(UplinkClock::now())) return false;
    note_uplink_switches();
    return true;
}

}  // namespace avpn::runtime
