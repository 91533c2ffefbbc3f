// The kernel's SA expiries and counters as avpnd reads them
// (docs/xfrm-keying.md, "Expiry"): which expiries are avpn's, what a dump
// of avpn's SAs says when notifications were lost, and how many bytes and
// packets each XFRM peer's SAs carried. Pure functions of what was read;
// the site (site_expire.cpp) reads the kernel.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "netlink/objects.hpp"
#include "netlink/xfrm_expire.hpp"
#include "orchestrator/runtime/status.hpp"
#include "orchestrator/runtime/xfrm_keying.hpp"

namespace avpn::runtime {

// An SA of an AutoVPN group: avpn's reqid and an if_id of a group's XFRM
// interface (interop tunnels' SAs are charon's, and charon rekeys them).
bool expire_is_avpns(const nl::XfrmExpire& e);

// After an overrun: the expiries a dump of avpn's SAs shows. A held SA at
// or past a soft limit is a soft expiry; a held SA the kernel no longer has
// is a hard one (the kernel deletes an SA at its hard limit).
std::vector<nl::XfrmExpire> expiries_in_dump(const std::vector<XfrmKeying::HeldSa>& held,
                                             const std::vector<nl::XfrmSa>& kernel);

// Per (group, peer): the bytes and packets of the SAs it holds now, as the
// kernel counts them (each new SA starts at 0). Held SAs the kernel lacks
// count nothing.
std::map<std::pair<std::string, std::string>, SaCounters> sa_counters(const std::vector<XfrmKeying::HeldSa>& held,
                                                                       const std::vector<nl::XfrmSa>& kernel);

// "SA 0x40000001 (if_id 0x41560001, reqid 0x4156002a)" for logs.
std::string describe_sa(const nl::XfrmExpire& e);

}  // namespace avpn::runtime
