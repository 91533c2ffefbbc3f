// Tunnel address allocation and the slot allocator behind it.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "helpers.hpp"
#include "orchestrator/plan/slot_allocator.hpp"
#include "orchestrator/plan/tunnel_addresses.hpp"

using namespace avpn;
using namespace avpn::test;
using namespace avpn::planner;

TEST_CASE("slot allocation: homes first, then linear probing in (home, key) order") {
    std::vector<SlotRequest> req = {{"c", 3, {}}, {"a", 3, {}}, {"b", 4, {}}, {"d", 9, {}}};
    auto alloc = allocate_slots(req, 10);
    // a and c share home 3: a (smaller key) keeps it, c probes to 4, b to 5.
    CHECK(alloc.slots == std::vector<uint64_t>{4, 3, 5, 9});
    CHECK(alloc.clashes.empty());
}

TEST_CASE("slot allocation wraps around the end and skips pinned slots") {
    std::vector<SlotRequest> req = {{"x", 8, {}}, {"y", 9, {}}, {"z", 9, {}}, {"p", 0, 0}, {"q", 0, 9}};
    auto alloc = allocate_slots(req, 10);
    CHECK(alloc.slots[3] == 0);  // pinned
    CHECK(alloc.slots[4] == 9);  // pinned
    CHECK(alloc.slots[0] == 8);
    CHECK(alloc.slots[1] == 1);  // 9 pinned, wraps, 0 pinned
    CHECK(alloc.slots[2] == 2);
}

TEST_CASE("slot allocation ignores input order and reports pinned clashes") {
    std::vector<SlotRequest> req;
    std::vector<std::string> keys;
    for (int i = 0; i < 50; ++i) keys.push_back("k" + std::to_string(i));
    for (int i = 0; i < 50; ++i) req.push_back({keys[size_t(i)], uint64_t(i % 7), std::nullopt});
    auto forward = allocate_slots(req, 64);
    std::vector<SlotRequest> rev(req.rbegin(), req.rend());
    auto backward = allocate_slots(rev, 64);
    for (size_t i = 0; i < req.size(); ++i) CHECK(forward.slots[i] == backward.slots[req.size() - 1 - i]);
    CHECK(std::set<uint64_t>(forward.slots.begin(), forward.slots.end()).size() == 50);

    auto clash = allocate_slots({{"a", 0, 5}, {"b", 0, 5}}, 10);
    REQUIRE(clash.clashes.size() == 1);
}

TEST_CASE("host space never hands out the network or broadcast address") {
    auto space = HostSpace::of(P("192.0.2.0/29"));
    REQUIRE(space);
    CHECK(space->size() == 6);
    CHECK(space->address(0) == A("192.0.2.1"));
    CHECK(space->address(5) == A("192.0.2.6"));
    CHECK_FALSE(space->slot(A("192.0.2.0")));
    CHECK_FALSE(space->slot(A("192.0.2.7")));
    CHECK(space->slot(A("192.0.2.3")) == 2u);
    CHECK_FALSE(HostSpace::of(P("192.0.2.0/31")));
    auto v6 = HostSpace::of(P("fd00::/64"));
    REQUIRE(v6);
    CHECK(v6->address(0) == A("fd00::1"));
    CHECK_FALSE(v6->slot(A("fd00::")));
}

TEST_CASE("a full small subnet: every site gets a distinct usable address, probing resolves collisions") {
    World w;
    w.group.tunnel_subnet = P("192.0.2.0/29");  // 6 usable hosts for 6 sites
    w.hub("h1");
    w.hub("h2");
    for (const char* s : {"s1", "s2", "s3", "s4"}) w.spoke(s, {"h1"});
    std::set<IpAddr> seen;
    auto out = w.plan_for("h1");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    seen.insert(out.state.groups[0].tunnel_address);
    for (const PeerPlan& p : out.state.peers) seen.insert(p.tunnel_address);
    CHECK(seen.size() == 6);
    for (const IpAddr& a : seen) {
        CHECK(P("192.0.2.0/29").contains(a));
        CHECK(a != A("192.0.2.0"));
        CHECK(a != A("192.0.2.7"));
    }
    w.spoke("s5", {"h1"});  // a seventh site does not fit
    auto full = w.plan_for("h1");
    REQUIRE(full.errors.size() == 1);
    CHECK(full.errors[0].why.find("room for 6") != std::string::npos);
}

TEST_CASE("every site computes the same address for every member") {
    World w;
    w.hub("sanjose");
    w.hub("sf");
    for (int i = 0; i < 20; ++i) w.spoke("spoke" + std::to_string(i), {"sanjose", "sf"});
    auto at_sanjose = w.plan_for("sanjose");
    auto at_sf = w.plan_for("sf");
    REQUIRE(at_sanjose.ok());
    REQUIRE(at_sf.ok());
    CHECK(peer(at_sanjose.state, "sf")->tunnel_address == at_sf.state.groups[0].tunnel_address);
    CHECK(peer(at_sf.state, "sanjose")->tunnel_address == at_sanjose.state.groups[0].tunnel_address);
    for (int i = 0; i < 20; ++i) {
        std::string s = "spoke" + std::to_string(i);
        auto own = w.plan_for(s).state.groups[0].tunnel_address;
        CHECK(peer(at_sanjose.state, s)->tunnel_address == own);
        CHECK(peer(at_sf.state, s)->tunnel_address == own);
    }
    // And the interface carries it with the subnet's prefix length.
    REQUIRE(at_sf.state.addresses.size() == 1);
    CHECK(at_sf.state.addresses[0].address == at_sf.state.groups[0].tunnel_address);
    CHECK(at_sf.state.addresses[0].prefix_len == 10);
}

TEST_CASE("pinned addresses are honoured; two sites pinned to one address is an error naming both") {
    World w;
    w.hub("sanjose").pinned = A("100.64.0.1");
    w.spoke("london", {"sanjose"}).pinned = A("100.64.0.2");
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    CHECK(out.state.groups[0].tunnel_address == A("100.64.0.2"));
    CHECK(peer(out.state, "sanjose")->tunnel_address == A("100.64.0.1"));

    w.spoke("paris", {"sanjose"}).pinned = A("100.64.0.2");
    auto clash = w.plan_for("sanjose");
    REQUIRE(clash.errors.size() == 1);
    CHECK(clash.errors[0].why.find("london") != std::string::npos);
    CHECK(clash.errors[0].why.find("paris") != std::string::npos);

    w.site("paris").pinned = A("100.128.0.1");  // outside the subnet
    auto outside = w.plan_for("sanjose");
    REQUIRE(outside.errors.size() == 1);
    CHECK(outside.errors[0].why.find("100.128.0.1") != std::string::npos);
}
