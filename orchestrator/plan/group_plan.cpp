#include "orchestrator/plan/group_plan.hpp"

namespace avpn::planner {

void add_tunnel_interface(const GroupModel& model, nl::LinkKind kind, uint32_t xfrm_if_id,
                          DesiredState& state) {
    const Group& g = *model.group;
    nl::Link link;
    link.name = g.interface;
    link.kind = kind;
    link.xfrm_if_id = xfrm_if_id;
    state.links.push_back(link);
    state.addresses.push_back({g.interface, model.me().tunnel_address, g.tunnel_subnet.len});
}

GroupPlan describe_group(const GroupModel& model, const Topology& topology) {
    GroupPlan gp;
    gp.group = model.group->name;
    gp.interface = model.group->interface;
    gp.tunnel_address = model.me().tunnel_address;
    gp.exports = model.self_exports;
    gp.full_tunnel = topology.full_tunnel;
    return gp;
}

std::vector<PeerPlan> describe_peers(const GroupModel& model, const Topology& topology) {
    std::vector<PeerPlan> out;
    out.reserve(topology.peers.size());
    for (const PeerChoice& peer : topology.peers) {
        const MemberView& m = model.members[peer.member];
        PeerPlan p;
        p.group = model.group->name;
        p.site = *m.name;
        p.role = std::string(to_string(m.role));
        p.public_key = *m.public_key;
        p.tunnel_address = m.tunnel_address;
        p.allowed = peer.allowed;
        p.endpoint = m.endpoint;
        p.default_route = peer.default_route;
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace avpn::planner
