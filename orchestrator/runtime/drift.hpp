// Which kernel change notifications concern avpnd: a change to something
// avpn owns (drift to repair) or plans from (an uplink's address), made by
// anyone but avpnd itself. Pure: tested without a kernel.
//
// Who made a change: an rtnetlink notification carries the port id of the
// socket whose request caused it; an XFRM notification carries whatever
// nlmsg_pid the request itself said (xfrm_user.c copies the request header's
// nlmsg_pid into km_event.portid), 0 for iproute2. avpn's batches put their
// socket's port id there (netlink/batch.cpp), so both families attribute
// avpnd's own writes. Kernel-made changes (an expiring SA, a link going down
// with its routes) carry 0 and always count.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "netlink/watch.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"

namespace avpn::runtime {

struct WatchScope {
    OwnedScope owned;                 // avpn's interfaces and routing tables
    std::set<std::string> uplinks;    // their addresses are planner inputs
    // Their interface indexes as last read: a main-table default route
    // through one is an input of the uplink health and steering.
    std::set<uint32_t> uplink_ifindexes;
    // Port ids of avpnd's rtnetlink and XFRM sockets: notifications of its
    // own writes carry them. Kept per family, because a port id is only
    // unique within its netlink family.
    std::set<uint32_t> own_rtnl_ports, own_xfrm_ports;
};

bool concerns_avpn(const nl::KernelEvent& e, const WatchScope& scope);

// Whether it is a fact about an uplink (its link, an address, a main-table
// route through it): avpnd notes when it learned it, the time a failure
// counts from (docs/uplinks.md).
bool concerns_uplinks(const nl::KernelEvent& e, const WatchScope& scope);

// One line for the log: "route table 7100 removed by port 2044", so a
// repair says what set it off.
std::string describe(const nl::KernelEvent& e);

}  // namespace avpn::runtime
