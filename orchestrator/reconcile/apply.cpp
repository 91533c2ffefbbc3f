#include "orchestrator/reconcile/apply.hpp"

#include <algorithm>
#include <iterator>

#include "orchestrator/reconcile/diff.hpp"

namespace avpn {

namespace {

// Rolls back, newest first. Undo keeps going past a failing inverse: a
// partial undo is better than none, and every failure is reported.
std::vector<Error> undo(std::vector<Op>& journal, KernelPort& port) {
    std::vector<Op> inverses;
    for (auto it = journal.rbegin(); it != journal.rend(); ++it) inverses.push_back(it->inverse());
    std::vector<Error> failures;
    if (inverses.empty()) return failures;
    auto statuses = port.execute(inverses);
    for (size_t i = 0; i < statuses.size(); ++i)
        if (!statuses[i]) failures.push_back(statuses[i].error());
    return failures;
}

}  // namespace

ApplyReport apply(const nl::KernelState& desired, const OwnedScope& scope, KernelPort& port, bool dry_run) {
    ApplyReport report;
    auto observed = port.observe(scope);
    if (!observed) {
        report.failure = observed.error();
        return report;
    }
    std::vector<Op> ops = diff(desired, *observed);
    if (dry_run) {
        report.ops = std::move(ops);
        return report;
    }
    return execute_all_or_nothing(std::move(ops), port);
}

ApplyReport execute_all_or_nothing(std::vector<Op> ops, KernelPort& port) {
    ApplyReport report;
    report.ops = std::move(ops);
    std::vector<size_t> succeeded;  // indices into report.ops: the journal
    size_t begin = 0;
    while (begin < report.ops.size()) {
        // One phase at a time: a later kind depends on the earlier ones.
        size_t end = begin;
        while (end < report.ops.size() && report.ops[end].phase() == report.ops[begin].phase() &&
               (report.ops[end].kind == OpKind::remove) == (report.ops[begin].kind == OpKind::remove))
            ++end;
        // The phase's ops move to the port and back instead of being copied
        // (a cold apply of a 10,000-spoke hub has 200,000 of them).
        auto first = report.ops.begin() + long(begin), last = report.ops.begin() + long(end);
        std::vector<Op> batch(std::make_move_iterator(first), std::make_move_iterator(last));
        auto statuses = port.execute(batch);
        std::move(batch.begin(), batch.end(), first);
        std::optional<size_t> first_failure;
        for (size_t i = 0; i < end - begin; ++i) {
            bool ok = i < statuses.size() && statuses[i].ok();
            if (ok)
                succeeded.push_back(begin + i);
            else if (!first_failure)
                first_failure = i;
        }
        if (first_failure) {
            size_t i = *first_failure;
            report.failed_op = begin + i;
            report.failure = i < statuses.size()
                                 ? statuses[i].error()
                                 : Error{"execute", describe(report.ops[begin + i].object), "no status returned"};
            std::vector<Op> journal;
            journal.reserve(succeeded.size());
            for (size_t k : succeeded) journal.push_back(report.ops[k]);
            report.undo_failures = undo(journal, port);
            return report;
        }
        begin = end;
    }
    report.applied = true;
    return report;
}

std::vector<Error> roll_back(const ApplyReport& applied, KernelPort& port) {
    if (!applied.applied) return {};  // a failed apply has rolled back already
    std::vector<Op> journal = applied.ops;
    return undo(journal, port);
}

}  // namespace avpn
