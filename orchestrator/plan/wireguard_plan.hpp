// WireGuard transport of one group: the device, its peers and their allowed
// IPs. Persistent keepalive: a spoke sends it to all its hubs (it sits behind
// NAT more often than not, and its hubs cannot reach it otherwise); a hub
// whose NAT mode is auto sends it to the other hubs only (a spoke's own
// keepalives keep a hub's NAT mapping for that spoke alive).
#pragma once

#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/topology.hpp"

namespace avpn::planner {

void plan_wireguard(const Intent& intent, const GroupModel& model, const Topology& topology,
                    DesiredState& state);

}  // namespace avpn::planner
