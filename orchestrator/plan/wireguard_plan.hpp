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

// Active-active (docs/uplinks.md): path i's devices, "<interface>.p<i>" for
// i = 1..c.paths-1, each a WireGuard device with this site's key on
// listen_port + i and fwmark path_marks[i] (the uplink the path leaves by).
// No address: the tunnel address stays on the group's device, path 0.
void plan_path_devices(const Intent& intent, const GroupModel& model, const GroupConstants& c,
                       const std::vector<uint32_t>& path_marks, DesiredState& state);

// The peer on path i's device and its routes in path i's table: its
// path_allowed, its allowed IPs without other peers' more specific ones
// (each device's source check is its own). At the spreading
// end: at the member list's contact with port + i, kept alive; at the other:
// where its packets come from.
void plan_path_peer(const GroupConstants& c, const PeerInput& peer, size_t path, DesiredState& state);

}  // namespace avpn::planner
