// Random AutoVPN groups for the packet-walk property test
// (walk_property_test.cpp): the generator, a description to print when one
// fails, and who the relay rule (issue 10) promises a path to.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "world.hpp"

namespace avpn::test {

// Only the engine's raw output: distributions and std::shuffle differ
// between standard libraries, and the groups must not.
struct Rng {
    std::mt19937 engine;
    size_t below(size_t n) { return engine() % n; }
    bool chance(unsigned percent) { return engine() % 100 < percent; }
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }
};

// 1-4 hubs h<i> (some with a contact, some with exit hubs), 0-6 spokes s<j>
// (random ordered hub lists, some full tunnel), some members off, either
// transport. Member m's networks: exported 10.m.k.0/24, non-shareable
// 10.m.64.0/24, shareable but not permitted 10.m.128.0/24.
World random_group(Rng& r);

// Members, roles, hub lists, contacts and networks, one line each.
std::string describe(const World& w);

// Who the relay rule promises a path to.
struct Promise {
    const World& w;

    const SiteSpec* find(const std::string& name) const;
    bool dead(const std::string& name) const;  // in World::dead_hubs
    // An active hub with a contact that has not died.
    bool reachable_hub(const std::string& name) const;
    // A live spoke with a reachable hub in its list; a live hub that is
    // reachable or (WireGuard) can reach one. XFRM needs both contacts for
    // the SAs.
    bool connected(const SiteSpec& s) const;
    // Two hubs without a contact never meet.
    bool exempt(const SiteSpec& a, const SiteSpec& b) const;
};

}  // namespace avpn::test
