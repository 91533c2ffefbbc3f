// Who a spoke watches for direct shortcuts (issue 14, docs/firewall.md "The
// shortcut watch"): in each WireGuard group with shortcuts on where this
// site is a spoke, every other active spoke that lists an active hub. Its
// traffic to such a spoke goes through a hub they share, or through its own
// hub and the other's (hubs are a full mesh), so the two are candidates for
// a direct tunnel once they exchange enough. Pure, like the planner.
#pragma once

#include <vector>

#include "orchestrator/plan/firewall_table.hpp"
#include "orchestrator/plan/group_model.hpp"

namespace avpn::planner {

// One entry per (group, watched spoke), sorted by counter name. A prefix is
// counted once: where two entries overlap (one site in two shortcut groups
// exporting the same prefix) the covering prefix, then the smaller counter
// name, keeps it, since nftables refuses overlapping elements in an interval
// map.
std::vector<fw::ShortcutWatch> plan_shortcut_watch(const std::vector<const GroupModel*>& groups);

}  // namespace avpn::planner
