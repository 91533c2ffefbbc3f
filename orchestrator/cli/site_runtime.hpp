// What apply and down share: the state directory, the kernel port configured
// for the site's interfaces, and the scope of objects avpn owns.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::cli {

// Opens the real kernel port; the WireGuard backend of each group's
// interface follows the config (autovpn.wg_backend).
Result<std::unique_ptr<NetlinkPort>> open_kernel_port(const Intent* intent);

// The plan's links and tables plus whatever the last apply owned.
OwnedScope scope_of(const nl::KernelState& desired, const AppliedRecord& last);

// What a successful apply of `desired` owns from now on.
OwnedScope owned_by(const nl::KernelState& desired);

// Prints an error line for a runtime failure and returns its exit code.
int report_failure(const char* command, const Error& e);

}  // namespace avpn::cli
