#include "orchestrator/reconcile/reconciler.hpp"

#include "orchestrator/reconcile/diff.hpp"

namespace avpn {

ApplyReport Reconciler::execute(std::vector<Op> ops, bool dry_run) {
    if (dry_run) {
        ApplyReport r;
        r.ops = std::move(ops);
        return r;
    }
    ApplyReport r = execute_all_or_nothing(std::move(ops), port_);
    if (r.applied)
        image_->record(r.ops);
    else if (!r.undo_failures.empty())
        image_.reset();  // the kernel is neither before nor after: observe it again
    return r;
}

ApplyReport Reconciler::apply_full(const nl::KernelState& desired, const OwnedScope& scope, bool dry_run) {
    auto observed = port_.observe(scope);
    if (!observed) {
        ApplyReport r;
        r.failure = observed.error();
        return r;
    }
    if (image_) image_->lend_key_refs(*observed);
    image_ = KernelImage::of(*observed);
    ApplyReport r = execute(diff(desired, *observed), dry_run);
    if (r.applied && !dry_run && image_) image_->adopt_key_refs(desired);
    return r;
}

ApplyReport Reconciler::apply_delta(const nl::KernelState& want, const nl::KernelState& was, bool dry_run) {
    if (!image_) {
        ApplyReport r;
        r.failure = Error{"apply a change", "kernel image", "no full apply yet"};
        return r;
    }
    std::vector<Op> ops = diff(want, image_->slice(want, was));
    // Replacing a link drops every object on it, most of which a delta does
    // not carry: only a full apply can put them back.
    for (const Op& op : ops)
        if (op.kind == OpKind::remove && std::holds_alternative<nl::Link>(op.object)) {
            ApplyReport r;
            r.failure = Error{"apply a change", describe(op.object), "the interface must be replaced: needs a full apply"};
            return r;
        }
    return execute(std::move(ops), dry_run);
}

}  // namespace avpn
