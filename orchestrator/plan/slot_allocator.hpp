// Deterministic allocation of distinct slots in [0, space): the one scheme
// behind tunnel addresses, SPI slots, reqids and interop if_ids.
//
// Pinned requests take their slot first. The others are placed in
// (home slot, key) order, each at its home slot or, when that is taken, at the
// next free slot above it, wrapping to 0 at the end (linear probing). The
// result depends only on the set of requests, never on their input order, so
// every site that sees the same member list computes the same slots; and a
// new request can only move requests of the same probe cluster that sort
// after it. Cost: O(n log n), independent of how full the space is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace avpn::planner {

struct SlotRequest {
    std::string_view key;            // identity, unique among the requests (tie-break)
    uint64_t home = 0;               // preferred slot, < space
    std::optional<uint64_t> pinned;  // fixed slot, < space
};

struct PinnedClash {
    size_t first;   // indices of two pinned requests that want the same slot
    size_t second;
};

struct SlotAllocation {
    std::vector<uint64_t> slots;  // one per request, in request order
    std::vector<PinnedClash> clashes;
};

// Callers guarantee requests.size() <= space and every home/pinned < space.
SlotAllocation allocate_slots(const std::vector<SlotRequest>& requests, uint64_t space);

}  // namespace avpn::planner
