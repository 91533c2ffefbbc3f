// Who peers with whom.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace avpn;
using namespace avpn::test;

TEST_CASE("a spoke peers with each of its hubs and never with another spoke") {
    auto out = three_hubs_three_spokes().plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    CHECK(peer_names(out.state) == std::vector<std::string>{"sanjose", "sf"});
    CHECK(out.state.wireguard.size() == 1);
    CHECK(out.state.wireguard[0].peers.size() == 2);
}

TEST_CASE("a hub peers with every other hub and with the spokes that list it") {
    auto w = three_hubs_three_spokes();
    auto sanjose = w.plan_for("sanjose");
    REQUIRE_MESSAGE(sanjose.ok(), errors_text(sanjose));
    CHECK(peer_names(sanjose.state) == std::vector<std::string>{"london", "sf", "tokyo"});
    auto sf = w.plan_for("sf");
    REQUIRE(sf.ok());
    CHECK(peer_names(sf.state) == std::vector<std::string>{"london", "paris", "rome", "sanjose", "tokyo"});
}

TEST_CASE("three hubs form a full mesh") {
    World w;
    w.hub("a", {P("10.1.0.0/16")});
    w.hub("b", {P("10.2.0.0/16")});
    w.hub("c", {P("10.3.0.0/16")});
    for (const char* site : {"a", "b", "c"}) {
        auto out = w.plan_for(site);
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        REQUIRE(out.state.peers.size() == 2);
        for (const PeerPlan& p : out.state.peers) {
            CHECK(p.site != site);
            CHECK(p.role == "hub");
            // A mesh peer carries exactly its own exports and tunnel address.
            CHECK(p.allowed.size() == 2);
        }
    }
}

TEST_CASE("members that are off take no part; a site that is off plans no AutoVPN") {
    auto w = three_hubs_three_spokes();
    w.site("rome").role = Role::off;
    auto sanjose = w.plan_for("sanjose");
    REQUIRE(sanjose.ok());
    CHECK(peer_names(sanjose.state) == std::vector<std::string>{"london", "sf", "tokyo"});
    CHECK_FALSE(has(peer(sanjose.state, "tokyo")->allowed, P("10.10.3.0/24")));
    CHECK_FALSE(has(peer(sanjose.state, "sf")->allowed, P("10.10.3.0/24")));

    auto rome = w.plan_for("rome");
    REQUIRE(rome.ok());
    CHECK(rome.state.peers.empty());
    CHECK(rome.state.links.empty());
    CHECK(rome.state.routes.empty());
    CHECK(rome.state.rules.empty());
}

TEST_CASE("a spoke naming a hub that is not a hub member is an error with its location") {
    auto w = three_hubs_three_spokes();
    w.site("london").hubs.push_back({"paris", false, {"site.toml", 42, 7}});
    auto out = w.plan_for("london");
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].where == "site.toml:42:7");
    CHECK(out.errors[0].why.find("paris") != std::string::npos);
}

TEST_CASE("a switched-off hub is skipped quietly and the next hub becomes primary") {
    auto w = three_hubs_three_spokes();
    w.site("sanjose").role = Role::off;
    auto out = w.plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    CHECK(peer_names(out.state) == std::vector<std::string>{"sf"});
    CHECK(has(peer(out.state, "sf")->allowed, w.group.tunnel_subnet));
}

TEST_CASE("the WireGuard link says which backend the config asks for; auto leaves it to run time") {
    auto w = three_hubs_three_spokes();
    for (auto [backend, impl] : {std::pair{WgBackend::automatic, nl::WgImpl::any},
                                 std::pair{WgBackend::kernel, nl::WgImpl::kernel},
                                 std::pair{WgBackend::userspace, nl::WgImpl::userspace}}) {
        w.group.wg_backend = backend;
        auto out = w.plan_for("london");
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        REQUIRE(out.state.links.size() == 1);
        CHECK(out.state.links[0].wg_impl == impl);
    }
}

// wireguard_plan.cpp, keepalive_for: a spoke keeps its hubs alive, a hub
// behind a NAT keeps the other hubs alive, and of two such hubs the one with
// the larger name a second less often, so initiations that cross cannot
// stay in step.
TEST_CASE("keepalive: spokes to hubs, hubs to hubs a second apart, hubs to spokes none") {
    World w;
    w.hub("a", {P("10.1.0.0/16")}).contact = E("192.0.2.1:51820");
    w.hub("b", {P("10.2.0.0/16")}).contact = E("192.0.2.2:51820");
    w.spoke("s", {"a"}, {P("10.9.0.0/24")}).contact = E("198.51.100.9:51820");
    w.group.keepalive_seconds = 5;
    auto keepalive = [&](const std::string& site, const std::string& peer) {
        auto out = w.plan_for(site);
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        for (const nl::WgPeer& p : out.state.wireguard.at(0).peers)
            if (p.site == peer) return int(p.keepalive_seconds);
        FAIL("no peer " << peer << " at " << site);
        return -1;
    };
    CHECK(keepalive("a", "b") == 5);
    CHECK(keepalive("b", "a") == 6);
    CHECK(keepalive("s", "a") == 5);
    CHECK(keepalive("a", "s") == 0);
}
