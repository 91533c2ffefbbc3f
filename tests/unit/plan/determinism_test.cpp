// Same input, same output; every vector sorted and free of duplicates; the
// order of the member list does not matter.
#include <doctest/doctest.h>

#include <algorithm>

#include "helpers.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

template <class T>
bool sorted_unique(const std::vector<T>& v) {
    return std::adjacent_find(v.begin(), v.end(), [](const T& a, const T& b) { return !(a < b); }) ==
           v.end();
}

void check_sorted(const DesiredState& s) {
    CHECK(sorted_unique(s.groups));
    CHECK(sorted_unique(s.peers));
    CHECK(sorted_unique(s.links));
    CHECK(sorted_unique(s.addresses));
    CHECK(sorted_unique(s.wireguard));
    CHECK(sorted_unique(s.xfrm_states));
    CHECK(sorted_unique(s.xfrm_policies));
    CHECK(sorted_unique(s.routes));
    CHECK(sorted_unique(s.rules));
    CHECK(sorted_unique(s.ipsec));
    for (const PeerPlan& p : s.peers) CHECK(sorted_unique(p.allowed));
    for (const nl::WgDevice& d : s.wireguard) {
        CHECK(std::is_sorted(d.peers.begin(), d.peers.end(),
                             [](const nl::WgPeer& a, const nl::WgPeer& b) { return a.public_key < b.public_key; }));
        for (const nl::WgPeer& p : d.peers) CHECK(sorted_unique(p.allowed_ips));
    }
}

World mixed(Transport transport) {
    World w = hub_and_spokes(40, 2, transport);
    w.hub("sf", {P("10.254.0.0/16")}).contact = E("192.0.2.2:51820");
    w.site("s3").hubs.insert(w.site("s3").hubs.begin(), {"sf", true, {}});
    w.site("hub").exit_hubs = {"sf"};
    return w;
}

}  // namespace

TEST_CASE("planning twice gives equal plans, sorted and duplicate-free") {
    for (Transport t : {Transport::wireguard, Transport::xfrm}) {
        World w = mixed(t);
        for (const char* site : {"hub", "sf", "s3", "s7"}) {
            auto first = w.plan_for(site);
            auto second = w.plan_for(site);
            REQUIRE_MESSAGE(first.ok(), errors_text(first));
            CHECK(same_plan(first.state, second.state));
            check_sorted(first.state);
        }
    }
}

TEST_CASE("the order of the member list does not change the plan") {
    World w = mixed(Transport::xfrm);
    World shuffled = w;
    std::reverse(shuffled.sites.begin(), shuffled.sites.end());
    std::rotate(shuffled.sites.begin(), shuffled.sites.begin() + 7, shuffled.sites.end());
    for (const char* site : {"hub", "s3"}) {
        auto a = w.plan_for(site);
        auto b = shuffled.plan_for(site);
        REQUIRE(a.ok());
        CHECK(same_plan(a.state, b.state));
    }
}
