// Overlap detection over many prefixes in O(n log n): sort, then sweep with a
// stack of enclosing prefixes. Two CIDR prefixes either nest or are disjoint,
// so after sorting by (family, address, length) every overlap is between a
// prefix and one still open on the stack. A group of 10,000 sites with four
// VLANs each is checked in milliseconds; a pairwise check would take seconds.
#pragma once

#include <cstddef>
#include <vector>

#include "common/ip.hpp"

namespace avpn {

struct PrefixOverlap {
    size_t outer;  // index of the enclosing (or equal) prefix
    size_t inner;  // index of the prefix inside it
};

// Reports, for every prefix that lies inside (or equals) another, the pair
// with its nearest enclosing prefix. Indices refer to the input vector.
std::vector<PrefixOverlap> find_overlaps(const std::vector<Prefix>& prefixes);

}  // namespace avpn
