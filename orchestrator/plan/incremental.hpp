// The planner of a long-lived process (avpnd): it keeps the pieces of the
// last committed plan (site_pieces.hpp) and, given a new intent, emits only
// the objects of peers whose PeerInput changed, plus the small site-wide
// part. At a 10,000-spoke hub a one-spoke change then costs the decisions
// (group model, topology, allocations: linear) instead of emitting and
// sorting 200,000 objects.
//
// Still pure: no I/O, no clock. update() never changes the planner; commit()
// makes an update the new basis once it has been applied.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "orchestrator/plan/site_pieces.hpp"

namespace avpn {

class IncrementalPlanner {
public:
    struct Update {
        // True when the whole plan was emitted (`plan`): nothing committed
        // yet, a group-wide constant changed, or the intent has errors.
        bool full = true;
        PlanOutcome plan;
        // Not full: the new objects of every changed peer plus the whole
        // site-wide part (`want`), and the same as last committed (`was`).
        // Objects identified in `was` but not in `want` are to be removed;
        // every other object of the plan is unchanged.
        DesiredState want, was;
        size_t peers_changed = 0;  // added, removed or changed peers
        planner::SitePieces pieces;  // what commit() keeps
    };

    Update update(const Intent& intent, const PlanInputs& inputs) const;
    void commit(Update&& applied);
    void forget() { committed_.reset(); }
    // The pieces of the last committed plan; null before the first commit
    // and after forget().
    const planner::SitePieces* committed() const { return committed_ ? &*committed_ : nullptr; }

    // The committed plan as plan() gives it (emits everything: not for hot paths).
    PlanOutcome assemble() const;

private:
    std::optional<planner::SitePieces> committed_;
    // Per committed group: peer name -> index into its peers.
    std::vector<std::unordered_map<std::string, size_t>> by_name_;
};

}  // namespace avpn
