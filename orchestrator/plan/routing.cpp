#include "orchestrator/plan/routing.hpp"

#include "orchestrator/ownership.hpp"

namespace avpn::planner {

std::vector<IpAddr> known_uplink_addresses(const Intent& intent, const PlanInputs& inputs) {
    std::vector<IpAddr> out;
    for (const Uplink& u : intent.site.uplinks) {
        auto it = inputs.uplink_addresses.find(u.interface);
        if (it != inputs.uplink_addresses.end()) out.push_back(it->second);
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

void add_split_rule(const Group& g, Family family, DesiredState& state) {
    nl::Rule r;
    r.priority = g.rule_priority;
    r.family = family;
    r.table = g.table;
    state.rules.push_back(r);
}

void add_full_tunnel_rules(const Group& g, Family family, const std::vector<IpAddr>& uplinks,
                           DesiredState& state) {
    nl::Rule main_specific;
    main_specific.priority = g.rule_priority;
    main_specific.family = family;
    main_specific.table = kMainTable;
    main_specific.suppress_prefixlen = 0;
    state.rules.push_back(main_specific);

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

void plan_group_routing(const GroupModel& model, const Topology& topology,
                        const std::vector<IpAddr>& uplinks, DesiredState& state, Errors& errors) {
    const Group& g = *model.group;
    bool has[2] = {false, false};         // routes per family (v4, v6)
    bool has_default[2] = {false, false};
    auto note = [&](const Prefix& p) {
        size_t f = p.family() == Family::v4 ? 0 : 1;
        has[f] = true;
        has_default[f] = has_default[f] || p.is_default();
        state.routes.push_back(nl::Route{g.table, p, g.interface, {}, {}, 0});
    };
    note(g.tunnel_subnet);
    for (const PeerChoice& peer : topology.peers)
        for (const Prefix& p : peer.allowed) note(p);

    if (!rule_slot_fits(g, errors)) return;
    const Family families[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (has_default[f])
            add_full_tunnel_rules(g, families[f], uplinks, state);
        else if (has[f])
            add_split_rule(g, families[f], state);
    }
}

}  // namespace avpn::planner
