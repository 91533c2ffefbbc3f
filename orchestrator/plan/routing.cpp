#include "orchestrator/plan/routing.hpp"

#include <algorithm>

#include "orchestrator/ownership.hpp"

namespace avpn::planner {

// In order of preference. With failover = false only the first uplink
// counts: when it has no address the tunnels wait for it instead of moving
// to the next one.
std::vector<IpAddr> known_uplink_addresses(const Intent& intent, const PlanInputs& inputs) {
    std::vector<IpAddr> out;
    if (inputs.active_uplinks && !inputs.active_uplinks->empty()) {
        for (const std::string& name : *inputs.active_uplinks)
            if (auto it = inputs.uplink_addresses.find(name); it != inputs.uplink_addresses.end())
                out.push_back(it->second);
        return out;
    }
    for (const Uplink& u : intent.site.uplinks) {
        auto it = inputs.uplink_addresses.find(u.interface);
        if (it != inputs.uplink_addresses.end()) out.push_back(it->second);
        if (!intent.site.failover) break;
    }
    return out;
}

std::vector<IpAddr> path_uplink_addresses(const Intent& intent, const PlanInputs& inputs,
                                          const std::vector<IpAddr>& uplinks, size_t path) {
    const std::vector<Uplink>& all = intent.site.uplinks;
    if (!intent.site.active_active || path >= all.size()) return uplinks;
    const std::string& name = all[path].interface;
    if (inputs.active_uplinks &&
        std::find(inputs.active_uplinks->begin(), inputs.active_uplinks->end(), name) == inputs.active_uplinks->end())
        return uplinks;
    auto own = inputs.uplink_addresses.find(name);
    if (own == inputs.uplink_addresses.end()) return uplinks;
    std::vector<IpAddr> out{own->second};
    for (const IpAddr& a : uplinks)
        if (!(a == own->second)) out.push_back(a);
    return out;
}

std::optional<IpAddr> preferred_uplink_address(const std::vector<IpAddr>& uplinks, Family family) {
    for (const IpAddr& a : uplinks)
        if (a.family == family) return a;
    return std::nullopt;
}

namespace {

uint32_t uplink_table(size_t index) { return own::kUplinkTableBase + uint32_t(index); }

const std::vector<nl::Route>* default_routes_of(const PlanInputs& inputs, const std::string& uplink) {
    auto it = inputs.uplink_default_routes.find(uplink);
    return it == inputs.uplink_default_routes.end() ? nullptr : &it->second;
}

bool has_default_route(const PlanInputs& inputs, const std::string& uplink, Family family) {
    if (const auto* routes = default_routes_of(inputs, uplink))
        for (const nl::Route& r : *routes)
            if (r.dst.family() == family) return true;
    return false;
}

// Distinct priorities: rules of one priority are matched in the order they
// were added, and a repair adds at the end.
// WireGuard's marked packets before the source rules: a source WireGuard
// cached on the old uplink (it learns one from every packet it receives)
// must not pull them back there. The kernel's WireGuard then sees the route
// leave another interface than the one it learned the source on, and drops
// the cached source.
enum SteeringStep : uint32_t { kMainSpecific = 0, kMarked = 1, kFromUplink = 2 };

nl::Rule steering_rule(SteeringStep step, Family family, uint32_t table) {
    nl::Rule r;
    r.priority = own::kUplinkRulePriority + step;
    r.family = family;
    r.table = table;
    return r;
}

}  // namespace

std::optional<UplinkSteering> uplink_steering(const Intent& intent, const PlanInputs& inputs) {
    const std::vector<Uplink>& uplinks = intent.site.uplinks;
    if (!inputs.active_uplinks || uplinks.size() < 2 || !intent.site.failover) return std::nullopt;
    UplinkSteering s;
    s.mark = uplink_table(0);  // none active: the preferred one's, where the tunnels wait
    if (!inputs.active_uplinks->empty())
        for (size_t i = 0; i < uplinks.size(); ++i)
            if (uplinks[i].interface == inputs.active_uplinks->front()) s.mark = uplink_table(i);
    if (intent.site.active_active) {
        auto active = [&](size_t i) {
            for (const std::string& n : *inputs.active_uplinks)
                if (n == uplinks[i].interface) return true;
            return false;
        };
        for (size_t i = 0; i < kMaxPaths; ++i)
            s.path_marks.push_back(i < uplinks.size() && active(i) ? uplink_table(i) : s.mark);
    }
    for (size_t i = 0; i < uplinks.size(); ++i) {
        auto a = inputs.uplink_addresses.find(uplinks[i].interface);
        if (a == inputs.uplink_addresses.end()) continue;
        bool routed = has_default_route(inputs, uplinks[i].interface, a->second.family);
        s.sources.emplace_back(a->second, routed ? uplink_table(i) : kMainTable);
    }
    return s;
}

void plan_uplink_steering(const Intent& intent, const PlanInputs& inputs, DesiredState& state) {
    auto steering = uplink_steering(intent, inputs);
    if (!steering) return;
    bool family_routed[2] = {false, false};
    for (size_t i = 0; i < intent.site.uplinks.size(); ++i) {
        const std::vector<nl::Route>* routes = default_routes_of(inputs, intent.site.uplinks[i].interface);
        if (!routes) continue;
        // One default route a family: the main table's preferred (lowest metric).
        const nl::Route* best[2] = {nullptr, nullptr};
        for (const nl::Route& r : *routes) {
            const nl::Route*& b = best[r.dst.family() == Family::v4 ? 0 : 1];
            if (!b || r.metric < b->metric) b = &r;
        }
        for (size_t f = 0; f < 2; ++f) {
            if (!best[f]) continue;
            family_routed[f] = true;
            state.routes.push_back(nl::Route{uplink_table(i), best[f]->dst, best[f]->ifname, best[f]->gateway, {}, 0});
            nl::Rule marked = steering_rule(kMarked, best[f]->dst.family(), uplink_table(i));
            marked.fwmark = uplink_table(i);
            marked.fwmask = 0xffffffff;
            state.rules.push_back(marked);
        }
    }
    for (const auto& [address, table] : steering->sources) {
        if (table == kMainTable) continue;
        nl::Rule from = steering_rule(kFromUplink, address.family, table);
        from.src = Prefix::host(address);
        state.rules.push_back(from);
    }
    const Family families[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (!family_routed[f]) continue;
        nl::Rule main_specific = steering_rule(kMainSpecific, families[f], kMainTable);
        main_specific.suppress_prefixlen = 0;
        state.rules.push_back(main_specific);
    }
}

namespace {

constexpr uint32_t kRulesPerFullTunnel = 3;

// P: main's specific routes win over avpn's table: a site's connected
// networks and the operator's static routes come first (Meraki's order:
// directly connected, static, then AutoVPN); only main's default route is
// skipped, so it cannot take what the tunnel carries.
void add_main_specific_rule(const Group& g, Family family, DesiredState& state) {
    nl::Rule main_specific;
    main_specific.priority = g.rule_priority;
    main_specific.family = family;
    main_specific.table = kMainTable;
    main_specific.suppress_prefixlen = 0;
    state.rules.push_back(main_specific);
}

// P+2: the group's table.
void add_split_rule(const Group& g, Family family, DesiredState& state) {
    add_main_specific_rule(g, family, state);
    nl::Rule r;
    r.priority = g.rule_priority + 2;
    r.family = family;
    r.table = g.table;
    state.rules.push_back(r);
}

void add_full_tunnel_rules(const Group& g, Family family, const std::vector<IpAddr>& uplinks,
                           const UplinkSteering* steering, DesiredState& state) {
    add_main_specific_rule(g, family, state);
    // Steered, every uplink's address keeps its way out, not only the
    // active ones' (charon's, the registry client's packets).
    std::vector<std::pair<IpAddr, uint32_t>> outers;
    if (steering)
        outers = steering->sources;
    else
        for (const IpAddr& a : uplinks) outers.emplace_back(a, kMainTable);
    for (const auto& [a, table] : outers) {
        if (a.family != family) continue;
        nl::Rule outer;
        outer.priority = g.rule_priority + 1;
        outer.family = family;
        outer.table = table;
        outer.src = Prefix::host(a);
        // Steered, WireGuard's own packets (marked) go on to the steering
        // rules, whatever source it cached: only unmarked ones match here.
        if (steering) outer.fwmask = 0xffffffff;
        state.rules.push_back(outer);
    }

    nl::Rule tunnel;
    tunnel.priority = g.rule_priority + 2;
    tunnel.family = family;
    tunnel.table = g.table;
    if (g.transport == Transport::wireguard) {
        tunnel.fwmark = steering ? steering->mark : g.table;
        tunnel.fwmask = 0xffffffff;
        tunnel.invert = true;
        // Active-active: path i's device sends with uplink i's mark, so
        // none of the uplink tables' marks (7200-7203) may enter the tunnel.
        if (steering && !steering->path_marks.empty()) {
            static_assert(own::kUplinkTableBase % kMaxPaths == 0 && (kMaxPaths & (kMaxPaths - 1)) == 0);
            tunnel.fwmark = own::kUplinkTableBase;
            tunnel.fwmask = ~uint32_t(kMaxPaths - 1);
        }
    }
    state.rules.push_back(tunnel);
}

bool rule_slot_fits(const Group& g, Errors& errors) {
    if (g.rule_priority >= own::kRulePriorityFirst &&
        g.rule_priority + kRulesPerFullTunnel - 1 <= own::kRulePriorityLast)
        return true;
    errors.push_back({"plan rules", g.loc.str(),
                      "rule priority " + std::to_string(g.rule_priority) + " of group " + g.name +
                          " leaves avpn's band " + std::to_string(own::kRulePriorityFirst) + "-" +
                          std::to_string(own::kRulePriorityLast)});
    return false;
}

}  // namespace

void plan_peer_routes(const GroupConstants& c, const PeerInput& peer, DesiredState& state) {
    for (const Prefix& p : peer.allowed) state.routes.push_back(nl::Route{c.table, p, c.interface, {}, {}, 0});
}

void plan_path_rules(const Group& g, const GroupAggregates& a, uint8_t paths, uint32_t path_table_first,
                     DesiredState& state) {
    const Family families[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (!a.routed[f]) continue;
        for (uint32_t i = 1; i < paths; ++i) {
            nl::Rule r;
            r.priority = g.rule_priority + 1;
            r.family = families[f];
            r.table = path_table_first + i;
            r.fwmark = path_table_first + i;
            r.fwmask = 0xffffffff;
            state.rules.push_back(r);
        }
    }
}

void plan_group_routing(const Group& g, const GroupAggregates& a, const std::vector<IpAddr>& uplinks,
                        const UplinkSteering* steering, DesiredState& state, Errors& errors) {
    state.routes.push_back(nl::Route{g.table, g.tunnel_subnet, g.interface, {}, {}, 0});
    if (!rule_slot_fits(g, errors)) return;
    const Family families[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (a.default_routed[f])
            add_full_tunnel_rules(g, families[f], uplinks, steering, state);
        else if (a.routed[f])
            add_split_rule(g, families[f], state);
    }
}

}  // namespace avpn::planner
