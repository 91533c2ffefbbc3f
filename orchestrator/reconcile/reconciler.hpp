// The long-lived reconciler (avpnd): the kernel port plus a KernelImage of
// avpn's objects. A full apply observes everything in scope, as
// `avpnctl apply` does, and rebuilds the image; a delta apply (the
// incremental planner's want/was) diffs against a slice of the image and
// reads nothing from the kernel, so a one-spoke change at a 10,000-spoke hub
// costs its own few ops. Every apply is all-or-nothing as apply() is.
//
// The image only follows avpn's own writes: a periodic full apply is the
// drift backstop, and a failed undo drops the image so the next apply is
// full.
#pragma once

#include <optional>

#include "orchestrator/reconcile/apply.hpp"
#include "orchestrator/reconcile/kernel_image.hpp"

namespace avpn {

class Reconciler {
public:
    explicit Reconciler(KernelPort& port) : port_(port) {}

    ApplyReport apply_full(const nl::KernelState& desired, const OwnedScope& scope, bool dry_run);

    // Objects identified in `was` but not in `want` are removed, the rest of
    // `want` created or updated. Requires has_image().
    ApplyReport apply_delta(const nl::KernelState& want, const nl::KernelState& was, bool dry_run);

    bool has_image() const { return image_.has_value(); }
    void forget() { image_.reset(); }

private:
    ApplyReport execute(std::vector<Op> ops, bool dry_run);

    KernelPort& port_;
    std::optional<KernelImage> image_;
};

}  // namespace avpn
