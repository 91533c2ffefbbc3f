// What apply and down share: the state directory and the scope of objects
// avpn owns.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::cli {

// The plan's links and tables plus whatever the last apply owned.
OwnedScope scope_of(const nl::KernelState& desired, const AppliedRecord& last);

// What a successful apply of `desired` owns from now on.
OwnedScope owned_by(const nl::KernelState& desired);

// Prints an error line for a runtime failure and returns its exit code.
int report_failure(const char* command, const Error& e);

}  // namespace avpn::cli
