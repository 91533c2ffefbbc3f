// Who this site peers with in a group, and which prefixes each peer carries.
//
// Topology: hub <-> every other hub; spoke <-> each of its hubs; hub <-> every
// spoke that lists it. Spokes never peer with spokes; members whose role is
// off take no part.
//
// Allowed IPs (each prefix goes to exactly one peer, as WireGuard requires):
// - spoke, each hub: the hub's exports and tunnel address; the primary hub
//   (first reachable one in the spoke's order, else the first) also carries
//   every other member's exports and the whole tunnel subnet;
// - hub, a spoke peer: that spoke's exports and tunnel address;
// - hub, a hub peer: that hub's exports and tunnel address, plus exports and
//   tunnel addresses of spokes that do not list this hub, each given to the
//   first hub in the spoke's own order;
// - full tunnel: the default route(s) go to the spoke's first default_route
//   hub, or to a hub's first exit hub.
#pragma once

#include <cstddef>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/plan/group_model.hpp"

namespace avpn::planner {

struct PeerChoice {
    size_t member = 0;            // index into GroupModel::members
    std::vector<Prefix> allowed;  // sorted, unique
    bool default_route = false;
};

struct Topology {
    std::vector<PeerChoice> peers;  // in member order
    bool full_tunnel = false;
};

Topology choose_peers(const GroupModel& model, Errors& errors);

}  // namespace avpn::planner
