#include "common/prefix_index.hpp"

#include <algorithm>
#include <numeric>

namespace avpn {

std::vector<PrefixOverlap> find_overlaps(const std::vector<Prefix>& prefixes) {
    std::vector<size_t> order(prefixes.size());
    std::iota(order.begin(), order.end(), size_t{0});
    // Prefix's ordering is (family, address bytes, length): an enclosing
    // prefix sorts before everything inside it.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return prefixes[a] < prefixes[b]; });

    std::vector<PrefixOverlap> found;
    std::vector<size_t> open;  // chain of nested prefixes enclosing the sweep point
    for (size_t idx : order) {
        while (!open.empty() && !prefixes[open.back()].contains(prefixes[idx])) open.pop_back();
        if (!open.empty()) found.push_back({open.back(), idx});
        open.push_back(idx);
    }
    return found;
}

}  // namespace avpn
