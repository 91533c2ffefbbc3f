#include "orchestrator/plan/slot_allocator.hpp"

#include <algorithm>
#include <tuple>

namespace avpn::planner {

namespace {

// Pinned requests in slot order; equal neighbours are clashes.
std::vector<uint64_t> take_pinned(const std::vector<SlotRequest>& req, SlotAllocation& out) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < req.size(); ++i)
        if (req[i].pinned) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        return std::tie(*req[a].pinned, req[a].key, a) < std::tie(*req[b].pinned, req[b].key, b);
    });
    std::vector<uint64_t> taken;
    for (size_t k = 0; k < idx.size(); ++k) {
        uint64_t slot = *req[idx[k]].pinned;
        out.slots[idx[k]] = slot;
        if (!taken.empty() && taken.back() == slot) {
            out.clashes.push_back({idx[k - 1], idx[k]});
            continue;
        }
        taken.push_back(slot);
    }
    return taken;
}

// Whether `slot` is in the ascending vector `taken`. The scan resumes at
// `pos`, kept by the caller, because the slots it asks about only grow.
bool is_taken(const std::vector<uint64_t>& taken, size_t& pos, uint64_t slot) {
    while (pos < taken.size() && taken[pos] < slot) ++pos;
    return pos < taken.size() && taken[pos] == slot;
}

}  // namespace

SlotAllocation allocate_slots(const std::vector<SlotRequest>& req, uint64_t space) {
    SlotAllocation out;
    out.slots.assign(req.size(), 0);
    const std::vector<uint64_t> pinned = take_pinned(req, out);

    std::vector<size_t> order;
    for (size_t i = 0; i < req.size(); ++i)
        if (!req[i].pinned) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return std::tie(req[a].home, req[a].key, a) < std::tie(req[b].home, req[b].key, b);
    });

    // Homes are visited in ascending order, so every slot between a home and
    // the cursor is already taken: starting at max(home, cursor) is exactly
    // where linear probing would land, without walking the cluster.
    std::vector<uint64_t> assigned;  // ascending
    std::vector<size_t> wrapped;     // ran past the end: continue from slot 0
    uint64_t cursor = 0;
    size_t pin_pos = 0;
    for (size_t i : order) {
        if (!wrapped.empty()) {
            wrapped.push_back(i);
            continue;
        }
        uint64_t slot = std::max(req[i].home, cursor);
        while (is_taken(pinned, pin_pos, slot)) ++slot;
        if (slot >= space) {
            wrapped.push_back(i);
            continue;
        }
        out.slots[i] = slot;
        assigned.push_back(slot);
        cursor = slot + 1;
    }

    uint64_t slot = 0;
    size_t a_pos = 0, p_pos = 0;
    for (size_t i : wrapped) {
        while (is_taken(assigned, a_pos, slot) || is_taken(pinned, p_pos, slot)) ++slot;
        out.slots[i] = slot++;
    }
    return out;
}

}  // namespace avpn::planner
