// Which kernel objects avpn owns: those of the plan, plus whatever the last
// apply owned (so a removed interface or table is still cleaned up).
#pragma once

#include "netlink/objects.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::runtime {

// The plan's links and tables plus whatever the last apply owned.
OwnedScope scope_of(const nl::KernelState& desired, const AppliedRecord& last);

// What a successful apply of `desired` owns from now on.
OwnedScope owned_by(const nl::KernelState& desired);

}  // namespace avpn::runtime
