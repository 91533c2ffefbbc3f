// Sorted, duplicate-free vectors: the invariant of every DesiredState vector.
#pragma once

#include <algorithm>
#include <vector>

namespace avpn::planner {

template <class T>
void sort_unique(std::vector<T>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace avpn::planner
