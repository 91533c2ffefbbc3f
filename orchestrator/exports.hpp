// What a site exports to an AutoVPN group. One rule, used by the validator
// (overlap checks), the planner and `avpnctl member`, so they cannot disagree:
// hubs export every shareable VLAN plus the prefixes they advertise; spokes
// export only their permitted VLANs; a site whose role is off exports nothing.
#pragma once

#include <vector>

#include "orchestrator/intent.hpp"

namespace avpn {

// Sorted, duplicates removed.
std::vector<Prefix> site_exports(const Intent& intent, const Group& group);

}  // namespace avpn
