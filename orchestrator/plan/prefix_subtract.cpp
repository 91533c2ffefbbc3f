#include "orchestrator/plan/prefix_subtract.hpp"

#include <algorithm>

namespace avpn::planner {

namespace {

// The upper half of p (p one bit longer, that bit set).
Prefix upper_half(const Prefix& p) {
    IpAddr a = p.addr;
    a.bytes[p.len / 8] |= uint8_t(0x80u >> (p.len % 8));
    return Prefix::make(a, uint8_t(p.len + 1));
}

void split(const Prefix& p, const std::vector<Prefix>& inside, std::vector<Prefix>& out) {
    if (inside.empty()) {
        out.push_back(p);
        return;
    }
    for (const Prefix& h : inside)
        if (h.len == p.len) return;  // p is a hole
    const Prefix halves[2] = {Prefix::make(p.addr, uint8_t(p.len + 1)), upper_half(p)};
    for (const Prefix& half : halves) {
        std::vector<Prefix> in_half;
        for (const Prefix& h : inside)
            if (half.contains(h)) in_half.push_back(h);
        split(half, in_half, out);
    }
}

}  // namespace

std::vector<Prefix> subtract_prefixes(const std::vector<Prefix>& from, const std::vector<Prefix>& holes) {
    std::vector<Prefix> out;
    for (const Prefix& p : from) {
        // Holes inside p start at or after p's address, in sorted order.
        std::vector<Prefix> inside;
        for (auto it = std::lower_bound(holes.begin(), holes.end(), Prefix{p.addr, 0});
             it != holes.end() && p.contains(it->addr); ++it)
            if (it->len >= p.len && p.contains(*it)) inside.push_back(*it);
        split(p, inside, out);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace avpn::planner
