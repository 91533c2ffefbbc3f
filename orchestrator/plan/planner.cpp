#include "orchestrator/plan/planner.hpp"

#include <memory>

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/group_plan.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"
#include "orchestrator/plan/normalize.hpp"
#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/topology.hpp"
#include "orchestrator/plan/wireguard_plan.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

namespace avpn {

namespace {

using namespace planner;

// One group, decided but not yet emitted.
struct GroupWork {
    std::unique_ptr<GroupModel> model = std::make_unique<GroupModel>();
    Topology topology;
    std::vector<uint32_t> reqids;  // XFRM: one per topology peer
    const Group& group() const { return *model->group; }
    uint32_t if_id() const { return own::kIfIdFirst + uint32_t(model->group_index); }
};

std::vector<GroupWork> decide_groups(const Intent& intent, const PlanInputs& inputs, Errors& errors) {
    std::vector<GroupWork> work;
    if (intent.site.role == Role::off) return work;
    for (size_t i = 0; i < intent.groups.size(); ++i) {
        GroupWork w;
        if (!build_group_model(intent, i, inputs, *w.model, errors)) continue;
        if (intent.groups[i].transport == Transport::xfrm && w.if_id() >= kInteropIfIdFirst) {
            errors.push_back({"allocate if_ids", intent.groups[i].loc.str(), "too many groups"});
            continue;
        }
        w.topology = choose_peers(*w.model, errors);
        work.push_back(std::move(w));
    }
    return work;
}

// reqids are per site, across all XFRM groups: one allocation for all peers.
void assign_reqids(std::vector<GroupWork>& work, Errors& errors) {
    std::vector<std::string> keys;
    for (const GroupWork& w : work) {
        if (w.group().transport != Transport::xfrm) continue;
        for (const PeerChoice& p : w.topology.peers)
            keys.push_back(w.group().name + "/" + *w.model->members[p.member].name);
    }
    std::vector<uint32_t> reqids = allocate_reqids(keys, errors);
    size_t next = 0;
    for (GroupWork& w : work) {
        if (w.group().transport != Transport::xfrm) continue;
        w.reqids.assign(reqids.begin() + long(next), reqids.begin() + long(next + w.topology.peers.size()));
        next += w.topology.peers.size();
    }
}

// Two XFRM groups of one site must not share an SPI tag: their SAs could
// then meet in the kernel's (destination, SPI) table.
void check_spi_tags(const std::vector<GroupWork>& work, Errors& errors) {
    for (size_t i = 0; i < work.size(); ++i)
        for (size_t j = 0; j < i; ++j) {
            const Group& a = work[j].group();
            const Group& b = work[i].group();
            if (a.transport != Transport::xfrm || b.transport != Transport::xfrm) continue;
            if (spi_tag(a.name) != spi_tag(b.name)) continue;
            errors.push_back({"derive SPIs", b.loc.str(),
                              "XFRM groups " + a.name + " and " + b.name +
                                  " hash to the same SPI tag; rename one of them"});
        }
}

void emit_group(const Intent& intent, GroupWork& w, const std::vector<IpAddr>& uplinks,
                DesiredState& state, Errors& errors) {
    const GroupModel& model = *w.model;
    state.groups.push_back(describe_group(model, w.topology));
    std::vector<PeerPlan> peers = describe_peers(model, w.topology);
    plan_group_routing(model, w.topology, uplinks, state, errors);
    if (w.group().transport == Transport::wireguard)
        plan_wireguard(intent, model, w.topology, state);
    else
        plan_xfrm(intent, model, w.topology, XfrmGroupInputs{w.if_id(), &w.reqids, &uplinks}, peers,
                  state, errors);
    for (PeerPlan& p : peers) state.peers.push_back(std::move(p));
}

InteropRouting interop_routing(const std::vector<GroupWork>& work) {
    InteropRouting r;
    const Group* first = nullptr;
    for (const GroupWork& w : work) {
        if (!first || w.group().rule_priority < first->rule_priority) first = &w.group();
        if (w.group().transport == Transport::xfrm) r.group_if_ids.push_back(w.if_id());
    }
    if (first) {
        r.table = first->table;
        r.own_rule = false;
    }
    return r;
}

void normalize(DesiredState& s) {
    sort_unique(s.groups);
    sort_unique(s.peers);
    sort_unique(s.links);
    sort_unique(s.addresses);
    sort_unique(s.wireguard);
    sort_unique(s.xfrm_states);
    sort_unique(s.xfrm_policies);
    sort_unique(s.routes);
    sort_unique(s.rules);
    sort_unique(s.ipsec);
}

// After normalizing, objects the kernel identifies by the same key but that
// differ elsewhere are conflicts no apply could resolve.
void check_conflicts(const DesiredState& s, Errors& errors) {
    for (size_t i = 1; i < s.links.size(); ++i)
        if (s.links[i].name == s.links[i - 1].name)
            errors.push_back({"plan interfaces", s.links[i].name, "two tunnels want this interface name"});
    for (size_t i = 1; i < s.routes.size(); ++i) {
        const nl::Route& a = s.routes[i - 1];
        const nl::Route& b = s.routes[i];
        if (a.table == b.table && a.dst == b.dst && a.metric == b.metric)
            errors.push_back({"plan routes", "table " + std::to_string(b.table) + " " + b.dst.str(),
                              "routed both via " + a.ifname + " and via " + b.ifname});
    }
}

}  // namespace

PlanOutcome plan(const Intent& intent, const PlanInputs& inputs) {
    PlanOutcome out;
    DesiredState& state = out.state;
    state.site = intent.site.name;
    const std::vector<IpAddr> uplinks = known_uplink_addresses(intent, inputs);

    std::vector<GroupWork> work = decide_groups(intent, inputs, out.errors);
    assign_reqids(work, out.errors);
    check_spi_tags(work, out.errors);
    for (GroupWork& w : work) emit_group(intent, w, uplinks, state, out.errors);
    plan_ipsec(intent, inputs, interop_routing(work), state, out.errors);

    normalize(state);
    check_conflicts(state, out.errors);
    return out;
}

}  // namespace avpn
