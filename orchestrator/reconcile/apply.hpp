// apply: observe, diff, execute all-or-nothing. Ops are executed one phase
// (object kind) at a time; every op that succeeded is journaled with its
// inverse, and on the first failure the journal is replayed backwards, so the
// kernel is left exactly as it was found.
#pragma once

#include <optional>
#include <vector>

#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/ops.hpp"

namespace avpn {

struct ApplyReport {
    std::vector<Op> ops;           // what was (or, with dry_run, would be) done
    bool applied = false;          // all ops succeeded
    std::optional<Error> failure;  // the first failing op and the kernel's reason
    size_t failed_op = 0;          // index into ops of that op
    std::vector<Error> undo_failures;  // inverses that failed while rolling back (should be none)
};

ApplyReport apply(const nl::KernelState& desired, const OwnedScope& scope, KernelPort& port, bool dry_run);

// The second half of apply(): executes `ops` (a diff's output) one phase at
// a time and undoes them all on the first failure.
ApplyReport execute_all_or_nothing(std::vector<Op> ops, KernelPort& port);

// Undoes a whole successful apply (its ops, newest first), for when a later
// step that has no journal of its own fails (charon refusing a connection).
// Returns the inverses that failed; none means the kernel is as it was.
std::vector<Error> roll_back(const ApplyReport& applied, KernelPort& port);

}  // namespace avpn
