// Which kernel change notifications concern avpnd: a change to something
// avpn owns (drift to repair) or plans from (an uplink's address), made by
// anyone but avpnd itself. Pure: tested without a kernel.
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
    std::set<uint32_t> own_ports;     // avpnd's netlink sockets: its own writes
};

bool concerns_avpn(const nl::KernelEvent& e, const WatchScope& scope);

}  // namespace avpn::runtime
