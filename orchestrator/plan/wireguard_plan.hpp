// WireGuard transport of one group: the device, its peers and their allowed
// IPs. Persistent keepalive: a spoke sends it to all its hubs (it sits behind
// NAT more often than not, and its hubs cannot reach it otherwise); a hub
// whose NAT mode is auto sends it to the other hubs only (a spoke's own
// keepalives keep a hub's NAT mapping for that spoke alive); none to a peer
// without an endpoint, so that the contact's arrival starts a handshake.
#pragma once

#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/peer_input.hpp"

namespace avpn::planner {

// Appends the interface and its address; returns the device without peers
// (emit_peer adds them). `steering_mark`: the active uplink's fwmark
// (routing.hpp); 0: none, the group's table in a full tunnel.
nl::WgDevice plan_wireguard_device(const Intent& intent, const GroupModel& model, const GroupAggregates& a,
                                    uint32_t steering_mark, DesiredState& state);

nl::WgPeer wireguard_peer(const GroupConstants& c, const PeerInput& peer);

}  // namespace avpn::planner
