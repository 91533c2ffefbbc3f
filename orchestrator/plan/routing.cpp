#include "orchestrator/plan/routing.hpp"

#include "orchestrator/ownership.hpp"

namespace avpn::planner {

// In order of preference. With failover = false only the first uplink
// counts: when it has no address the tunnels wait for it instead of moving
// to the next one.
std::vector<IpAddr> known_uplink_addresses(const Intent& intent, const PlanInputs& inputs) {
    std::vector<IpAddr> out;
    for (const Uplink& u : intent.site.uplinks) {
        auto it = inputs.uplink_addresses.find(u.interface);
        if (it != inputs.uplink_addresses.end()) out.push_back(it->second);
        if (!intent.site.failover) break;
    }
    return out;
}

std::optional<IpAddr> preferred_uplink_address(const std::vector<IpAddr>& uplinks, Family family) {
    for (const IpAddr& a : uplinks)
        if (a.family == family) return a;
    return std::nullopt;
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
                           DesiredState& state) {
    add_main_specific_rule(g, family, state);
    for (const IpAddr& a : uplinks) {
        if (a.family != family) continue;
        nl::Rule outer;
        outer.priority = g.rule_priority + 1;
        outer.family = family;
        outer.table = kMainTable;
        outer.src = Prefix::host(a);
        state.rules.push_back(outer);
    }

    nl::Rule tunnel;
    tunnel.priority = g.rule_priority + 2;
    tunnel.family = family;
    tunnel.table = g.table;
    if (g.transport == Transport::wireguard) {
        tunnel.fwmark = g.table;
        tunnel.fwmask = 0xffffffff;
        tunnel.invert = true;
    }
    state.rules.push_back(tunnel);
}

bool rule_slot_fits(const Group& g, Errors& errors) {
    if (own::owns_rule_priority(g.rule_priority) &&
        own::owns_rule_priority(g.rule_priority + kRulesPerFullTunnel - 1))
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

void plan_group_routing(const Group& g, const GroupAggregates& a, const std::vector<IpAddr>& uplinks,
                        DesiredState& state, Errors& errors) {
    state.routes.push_back(nl::Route{g.table, g.tunnel_subnet, g.interface, {}, {}, 0});
    if (!rule_slot_fits(g, errors)) return;
    const Family families[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (a.default_routed[f])
            add_full_tunnel_rules(g, families[f], uplinks, state);
        else if (a.routed[f])
            add_split_rule(g, families[f], state);
    }
}

}  // namespace avpn::planner
