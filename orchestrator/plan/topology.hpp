// Who this site peers with in a group, and which prefixes each peer carries.
//
// Topology: hub <-> every other hub; spoke <-> each of its hubs; hub <-> every
// spoke that lists it. Spokes never peer with spokes; members whose role is
// off take no part.
//
// Allowed IPs (each prefix goes to exactly one peer, as WireGuard requires;
// they are also the receiver's source check, so the relay rule makes both
// directions of every member-to-member path arrive through the expected peer;
// docs/planner.md proves it). up(S): the reachable hubs spoke S lists, in
// order; home(S): the first of them; meet(S, T): the shared reachable hub with
// the smallest sum of its positions in the two spokes' configured hub lists,
// ties by name. Reachable: a contact, and this site has not found it dead
// (PlanInputs::dead_peers); docs/planner.md shows why knowing only the deaths
// of its own peers is enough.
// - spoke, a hub in up(S): that hub's exports and tunnel address; every other
//   spoke T goes to meet(S, T) when they share a reachable hub, else to
//   home(S), which also carries unreachable hubs and the tunnel subnet;
// - hub, another hub: its exports and tunnel address;
// - hub, a spoke T: directly when this hub is in up(T) (or T is isolated and
//   lists it), else on home(T);
// - full tunnel: the default route(s) go to the spoke's first default_route
//   hub, or to a hub's first exit hub, that this site can reach (the first
//   configured when it reaches none).
// - shortcuts (docs/shortcuts.md), spoke, another spoke T with a contact and
//   a shortcut: `trying` makes T a peer with nothing routed to it (the
//   handshake runs, the traffic stays on the hub); `up` moves T's exports and
//   tunnel address from its hub onto T. The relay rule still holds: T keeps
//   the same state for this site (both ends move after one handshake) and no
//   third site's path changes, as T's traffic to others still leaves by T's
//   hubs.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/plan/group_model.hpp"

namespace avpn::planner {

struct PeerChoice {
    size_t member = 0;            // index into GroupModel::members
    std::vector<Prefix> allowed;  // sorted, unique
    bool default_route = false;
    std::optional<ShortcutState> shortcut;  // a spoke reached by a shortcut
};

struct Topology {
    std::vector<PeerChoice> peers;  // in member order
    bool full_tunnel = false;
};

Topology choose_peers(const GroupModel& model, Errors& errors);

}  // namespace avpn::planner
