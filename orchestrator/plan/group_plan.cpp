#include "orchestrator/plan/group_plan.hpp"

#include "orchestrator/plan/group_fingerprint.hpp"

namespace avpn::planner {

nl::WgImpl wg_impl_of(const Group& g) {
    return g.wg_backend == WgBackend::kernel      ? nl::WgImpl::kernel
           : g.wg_backend == WgBackend::userspace ? nl::WgImpl::userspace
                                                  : nl::WgImpl::any;
}

void add_tunnel_interface(const GroupModel& model, nl::LinkKind kind, uint32_t xfrm_if_id,
                          DesiredState& state) {
    const Group& g = *model.group;
    nl::Link link;
    link.name = g.interface;
    link.kind = kind;
    link.xfrm_if_id = xfrm_if_id;
    if (kind == nl::LinkKind::wireguard) link.wg_impl = wg_impl_of(g);
    state.links.push_back(link);
    state.addresses.push_back({g.interface, model.me().tunnel_address, g.tunnel_subnet.len});
}

GroupPlan describe_group(const Intent& intent, const GroupModel& model, const Topology& topology) {
    GroupPlan gp;
    gp.group = model.group->name;
    gp.interface = model.group->interface;
    gp.tunnel_address = model.me().tunnel_address;
    gp.exports = model.self_exports;
    gp.full_tunnel = topology.full_tunnel;
    gp.fingerprint = group_fingerprint(intent, *model.group, model.self_exports);
    return gp;
}

}  // namespace avpn::planner
