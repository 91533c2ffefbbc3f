#include "orchestrator/plan/incremental.hpp"

#include <set>

namespace avpn {

namespace {

using namespace planner;

// Incremental emission is exact only when every peer's objects are built
// from the same group constants as before and no two groups share a routing
// table (a route of one group could then collide with an untouched route of
// another, which only the full conflict check sees).
bool same_groups(const SitePieces& a, const SitePieces& b) {
    if (a.groups.size() != b.groups.size()) return false;
    std::set<uint32_t> tables;
    for (size_t i = 0; i < a.groups.size(); ++i) {
        if (!(a.groups[i].constants == b.groups[i].constants)) return false;
        if (!tables.insert(a.groups[i].constants.table).second) return false;
    }
    return true;
}

void emit(const GroupConstants& c, const PeerInput& p, DesiredState& into) {
    into.peers.push_back(emit_peer(c, p, device_of(into, c), into));
}

// Emits the whole plan from the decided pieces, as plan() does.
IncrementalPlanner::Update in_full(IncrementalPlanner::Update u) {
    u.full = true;
    u.want = u.was = {};
    u.peers_changed = 0;
    u.plan.state = u.pieces.shared;
    u.plan.errors = u.pieces.errors;
    emit_peers(u.pieces.groups, u.plan.state, u.plan.errors);
    return u;
}

}  // namespace

IncrementalPlanner::Update IncrementalPlanner::update(const Intent& intent, const PlanInputs& inputs) const {
    Update u;
    u.pieces = decide(intent, inputs, committed_ ? &committed_->allocations : nullptr);
    if (!committed_ || !u.pieces.errors.empty() || !same_groups(*committed_, u.pieces)) return in_full(std::move(u));
    u.full = false;
    u.want = u.pieces.shared;
    u.was = committed_->shared;
    for (size_t g = 0; g < u.pieces.groups.size(); ++g) {
        const GroupPieces& now = u.pieces.groups[g];
        const GroupPieces& before = committed_->groups[g];
        const auto& index = by_name_[g];
        std::vector<bool> kept(before.peers.size(), false);
        for (const PeerInput& p : now.peers) {
            auto it = index.find(p.name);
            if (it != index.end()) {
                kept[it->second] = true;
                if (before.peers[it->second] == p) continue;
                emit(before.constants, before.peers[it->second], u.was);
            }
            emit(now.constants, p, u.want);
            ++u.peers_changed;
        }
        for (size_t i = 0; i < before.peers.size(); ++i)
            if (!kept[i]) {
                emit(before.constants, before.peers[i], u.was);
                ++u.peers_changed;
            }
    }
    normalize(u.want);
    normalize(u.was);
    Errors conflicts;
    check_conflicts(u.want, conflicts);
    if (!conflicts.empty()) return in_full(std::move(u));  // the full plan reports them with everything else
    return u;
}

void IncrementalPlanner::commit(Update&& applied) {
    committed_ = std::move(applied.pieces);
    normalize(committed_->shared);
    by_name_.assign(committed_->groups.size(), {});
    for (size_t g = 0; g < committed_->groups.size(); ++g) {
        const auto& peers = committed_->groups[g].peers;
        by_name_[g].reserve(peers.size());
        for (size_t i = 0; i < peers.size(); ++i) by_name_[g].emplace(peers[i].name, i);
    }
}

PlanOutcome IncrementalPlanner::assemble() const {
    PlanOutcome out;
    if (!committed_) return out;
    out.state = committed_->shared;
    emit_peers(committed_->groups, out.state, out.errors);
    return out;
}

}  // namespace avpn
