// Which kernel objects avpn owns: those of the plan, plus whatever the last
// apply owned (so a removed interface or table is still cleaned up).
#pragma once

#include "netlink/objects.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::runtime {

// The plan's links and tables plus whatever the last apply owned.
OwnedScope scope_of(const nl::KernelState& desired, const AppliedRecord& last);
// Adds what the kernel shows as avpn's (KernelPort::scan_owned) to `scope`.
Status add_scanned(OwnedScope& scope, KernelPort& port);

// What a successful apply of `desired` owns from now on.
OwnedScope owned_by(const nl::KernelState& desired);

}  // namespace avpn::runtime
