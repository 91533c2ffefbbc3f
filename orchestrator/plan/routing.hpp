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
//
// Uplink steering (avpnd, two or more uplinks with failover; docs/uplinks.md
// "Steering"): uplink n's default routes are copied into table U = 7200 + n,
// and after every group's slot come
//   7100 `lookup main suppress_prefixlength 0` (the host's specific routes win)
//   7101 `fwmark U lookup U`                   (WireGuard: its devices carry
//        the active uplink's U as their fwmark, so a switch changes one mark,
//        which also makes WireGuard forget the source address it cached)
//   7102 `from <uplink n's address> lookup U`  (XFRM's outer packets, charon's)
// and a full tunnel's P+1 looks up U instead of main and matches unmarked
// packets only (`fwmark 0/0xffffffff`), its P+2 skips the active mark
// instead of the group's table.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/peer_input.hpp"

namespace avpn::planner {

inline constexpr uint32_t kMainTable = 254;  // RT_TABLE_MAIN

// Addresses of this site's uplinks that the daemon reported, in the site's
// order of preference: of the active uplinks when avpnd names them.
std::vector<IpAddr> known_uplink_addresses(const Intent& intent, const PlanInputs& inputs);

// The steering of a site whose tunnels follow its uplinks; nullopt: none.
struct UplinkSteering {
    // Every uplink address with the table its packets take: the uplink's own
    // when it has a default route of the address's family, else main.
    std::vector<std::pair<IpAddr, uint32_t>> sources;
    uint32_t mark = 0;  // the WireGuard devices' fwmark: the active uplink's table
    // active_active: path i's devices' fwmark at index i, for every path a
    // site may run: uplink i's table while it is active, else the first
    // active uplink's (the path survives on another uplink). Empty: `mark`.
    std::vector<uint32_t> path_marks;
};
std::optional<UplinkSteering> uplink_steering(const Intent& intent, const PlanInputs& inputs);

// The uplink tables' routes and the steering rules (7100-7102), site-wide.
void plan_uplink_steering(const Intent& intent, const PlanInputs& inputs, DesiredState& state);

// XFRM path i's local addresses, preferred first: at a site with
// active_active, uplink i's while it carries (the path leaves by it), then
// `uplinks` (path 0's) as a dead uplink's path moves to the first active one.
std::vector<IpAddr> path_uplink_addresses(const Intent& intent, const PlanInputs& inputs,
                                          const std::vector<IpAddr>& uplinks, size_t path);

// The preferred uplink address of a family (XFRM outer source address).
std::optional<IpAddr> preferred_uplink_address(const std::vector<IpAddr>& uplinks, Family family);

// Appends one peer's routes (one per allowed prefix) to `state`.
void plan_peer_routes(const GroupConstants& c, const PeerInput& peer, DesiredState& state);

// Active-active: P+1 `fwmark T lookup T` for path i's table T (i >= 1), per
// family the group routes. Disjoint marks, so one priority serves them all.
void plan_path_rules(const Group& g, const GroupAggregates& a, uint8_t paths, uint32_t path_table_first,
                     DesiredState& state);

// Appends the group-wide routing: the tunnel-subnet route and the rules.
void plan_group_routing(const Group& g, const GroupAggregates& a, const std::vector<IpAddr>& uplinks,
                        const UplinkSteering* steering, DesiredState& state, Errors& errors);

}  // namespace avpn::planner
