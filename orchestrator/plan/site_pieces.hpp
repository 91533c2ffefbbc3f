// The planner's decisions before the per-peer objects are emitted: the
// site-wide part of the plan, and per group its constants and one PeerInput
// per peer (peer_input.hpp). plan() emits every peer; the incremental
// planner keeps the pieces and re-emits only peers whose input changed.
#pragma once

#include <vector>

#include "orchestrator/plan/allocations.hpp"
#include "orchestrator/plan/peer_input.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::planner {

struct GroupPieces {
    GroupConstants constants;
    std::vector<PeerInput> peers;  // in member order
};

struct SitePieces {
    // Everything that is not per peer: each group's interface, address,
    // tunnel-subnet route, rules, WireGuard device without its peers, XFRM
    // block policies and GroupPlan; the IPsec interop plan.
    DesiredState shared;
    std::vector<GroupPieces> groups;
    SiteAllocations allocations;  // what the next decide() may reuse
    Errors errors;
};

// `previous`: allocations of an earlier decide() to reuse where the member
// lists are unchanged (allocations.hpp); the result is the same either way.
SitePieces decide(const Intent& intent, const PlanInputs& inputs, const SiteAllocations* previous = nullptr);

// The WireGuard device of a group inside `state` (nullptr: XFRM group).
nl::WgDevice* device_of(DesiredState& state, const GroupConstants& group);

// Emits every peer of `groups` into `state` (which holds their shared part),
// sorts, drops duplicates and checks for conflicting objects.
void emit_peers(const std::vector<GroupPieces>& groups, DesiredState& state, Errors& errors);

// Sorts every vector and drops duplicates (WireGuard peers included).
void normalize(DesiredState& state);

// Objects the kernel identifies by the same key that differ elsewhere (two
// interfaces of one name, one route via two devices): no apply could hold
// both. `state` is normalized.
void check_conflicts(const DesiredState& state, Errors& errors);

}  // namespace avpn::planner
