// Per-group emitters shared by both transports: the tunnel interface and its
// address, and the human-readable GroupPlan (PeerPlans come from emit_peer).
#pragma once

#include <cstdint>
#include <vector>

#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/topology.hpp"

namespace avpn::planner {

// The WireGuard implementation the group's wireguard_backend asks for.
nl::WgImpl wg_impl_of(const Group& g);

// Link (kind, name = Group.interface, xfrm_if_id) and the tunnel address with
// the tunnel subnet's prefix length.
void add_tunnel_interface(const GroupModel& model, nl::LinkKind kind, uint32_t xfrm_if_id,
                          DesiredState& state);

GroupPlan describe_group(const Intent& intent, const GroupModel& model, const Topology& topology);

}  // namespace avpn::planner
