// Routes and policy rules of one group, in the group's own table and rule
// slot. avpn never touches the main table: a full tunnel steers traffic with
// rules alone, as wg-quick does.
//
// Routes (table = Group.table, dev = Group.interface): one per allowed prefix
// of every peer, plus the tunnel subnet.
// Rules, per address family that has routes (P = Group.rule_priority):
// - split tunnel: P `lookup <table>`;
// - full tunnel (the table holds a default route of that family):
//   P   `lookup main suppress_prefixlength 0`  (the host's specific routes win)
//   P+1 `from <uplink address> lookup main`    (one per known uplink address:
//       the tunnel's own outer packets, ESP-in-UDP included, and charon's and
//       the registry client's packets keep using the WAN)
//   P+2 `not fwmark <table> lookup <table>` (WireGuard, whose device sets that
//       fwmark) or `lookup <table>` (XFRM).
#pragma once

#include <optional>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/peer_input.hpp"

namespace avpn::planner {

inline constexpr uint32_t kMainTable = 254;  // RT_TABLE_MAIN

// Addresses of this site's uplinks that the daemon reported, in the site's
// order of preference.
std::vector<IpAddr> known_uplink_addresses(const Intent& intent, const PlanInputs& inputs);

// The preferred uplink address of a family (XFRM outer source address).
std::optional<IpAddr> preferred_uplink_address(const std::vector<IpAddr>& uplinks, Family family);

// Appends one peer's routes (one per allowed prefix) to `state`.
void plan_peer_routes(const GroupConstants& c, const PeerInput& peer, DesiredState& state);

// Appends the group-wide routing: the tunnel-subnet route and the rules.
void plan_group_routing(const Group& g, const GroupAggregates& a, const std::vector<IpAddr>& uplinks,
                        DesiredState& state, Errors& errors);

}  // namespace avpn::planner
