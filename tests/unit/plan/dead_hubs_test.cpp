// Dead peers (PlanInputs::dead_peers): a hub this site found dead is routed
// around like a hub without a contact, for this site only; a dead spoke
// changes nothing. docs/planner.md, "Dead hubs".
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// three_hubs_three_spokes with every hub reachable: sanjose, sf, tokyo;
// london [sanjose, sf], paris [sf], rome [tokyo, sf].
World three_reachable_hubs() {
    World w = three_hubs_three_spokes();
    w.site("sanjose").contact = E("192.0.2.1:51820");
    w.site("sf").contact = E("192.0.2.2:51820");
    w.site("tokyo").contact = E("192.0.2.3:51820");
    return w;
}

IpAddr tunnel_address_of(const World& w, const std::string& site) {
    return w.plan_for(site).state.groups.at(0).tunnel_address;
}

}  // namespace

TEST_CASE("a dead hub moves its spokes' prefixes to their next hub, at the hubs and at the spoke") {
    World w = three_reachable_hubs();
    const Prefix rome_net = P("10.10.3.0/24");
    const Prefix rome_tun = host_of(tunnel_address_of(w, "rome"));
    auto before = w.plan_for("sanjose");
    REQUIRE_MESSAGE(before.ok(), errors_text(before));
    CHECK(has(peer(before.state, "tokyo")->allowed, rome_net));
    CHECK_FALSE(has(peer(before.state, "sf")->allowed, rome_net));

    w.dead_hubs = {"tokyo"};
    REQUIRE(w.inputs_for("sanjose").dead_peers.count({"corp", "tokyo"}) == 1);
    auto after = w.plan_for("sanjose");
    REQUIRE_MESSAGE(after.ok(), errors_text(after));
    // rome's home is now sf: sanjose reaches rome there.
    CHECK(has(peer(after.state, "sf")->allowed, rome_net));
    CHECK(has(peer(after.state, "sf")->allowed, rome_tun));
    CHECK_FALSE(has(peer(after.state, "tokyo")->allowed, rome_net));
    // tokyo stays a peer with its own prefixes: there is nowhere else to send them.
    CHECK(has(peer(after.state, "tokyo")->allowed, P("10.3.0.0/16")));

    // rome itself: tokyo stays a peer with its endpoint (handshakes go on,
    // so it can come back) but carries nothing; sf is home.
    auto rome = w.plan_for("rome");
    REQUIRE_MESSAGE(rome.ok(), errors_text(rome));
    const PeerPlan* tokyo = peer(rome.state, "tokyo");
    REQUIRE(tokyo);
    CHECK(tokyo->allowed.empty());
    CHECK(tokyo->endpoint == E("192.0.2.3:51820"));
    CHECK(has(peer(rome.state, "sf")->allowed, w.group.tunnel_subnet));
    CHECK(has(peer(rome.state, "sf")->allowed, P("10.3.0.0/16")));

    // It comes back: the plans are what they were.
    w.dead_hubs.clear();
    CHECK(same_plan(w.plan_for("sanjose").state, before.state));
}

TEST_CASE("only the dead hub's peers are told: the spokes that do not list it are not") {
    World w = three_reachable_hubs();
    w.dead_hubs = {"tokyo"};
    CHECK(w.inputs_for("sf").dead_peers.count({"corp", "tokyo"}) == 1);
    CHECK(w.inputs_for("rome").dead_peers.count({"corp", "tokyo"}) == 1);
    CHECK(w.inputs_for("london").dead_peers.empty());
    CHECK(w.inputs_for("tokyo").dead_peers.empty());
}

TEST_CASE("a dead spoke changes nothing in the plan") {
    World w = three_reachable_hubs();
    for (const char* site : {"sf", "london", "tokyo"}) {
        PlanInputs in = w.inputs_for(site);
        const PlanOutcome alive = plan(w.intent_for(site), in);
        in.dead_peers.insert({"corp", "paris"});
        in.dead_peers.insert({"corp", "rome"});
        CHECK_MESSAGE(same_plan(plan(w.intent_for(site), in).state, alive.state), site);
    }
}

TEST_CASE("a dead peer of another group changes nothing") {
    World w = three_reachable_hubs();
    PlanInputs in = w.inputs_for("london");
    const PlanOutcome alive = plan(w.intent_for("london"), in);
    in.dead_peers.insert({"other-group", "sanjose"});
    CHECK(same_plan(plan(w.intent_for("london"), in).state, alive.state));
}

TEST_CASE("a spoke whose hubs are all dead keeps them as peers, in its order") {
    World w = three_reachable_hubs();
    w.dead_hubs = {"sanjose", "sf"};
    auto out = w.plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    CHECK(peer_names(out.state) == std::vector<std::string>{"sanjose", "sf"});
    // Nothing is known about any: the configured order stands, as before
    // the registry answers (docs/planner.md, up(S)).
    CHECK(has(peer(out.state, "sanjose")->allowed, w.group.tunnel_subnet));
}

TEST_CASE("two spokes meet at the same hub when only one of them can see a hub die") {
    // docs/planner.md, "Dead hubs": s1 lists [c, a, b], s2 lists [b, c]; a
    // dies. s1 peers with a and knows, s2 does not. Both must attribute the
    // other to one hub, or the source check at the far end drops the traffic.
    World w;
    w.hub("a", {P("10.1.0.0/16")}).contact = E("192.0.2.1:51820");
    w.hub("b", {P("10.2.0.0/16")}).contact = E("192.0.2.2:51820");
    w.hub("c", {P("10.3.0.0/16")}).contact = E("192.0.2.3:51820");
    w.spoke("s1", {"c", "a", "b"}, {P("10.10.1.0/24")});
    w.spoke("s2", {"b", "c"}, {P("10.10.2.0/24")});
    w.dead_hubs = {"a"};
    REQUIRE(w.inputs_for("s2").dead_peers.empty());
    auto carrier_of = [&](const std::string& site, const Prefix& p) -> std::string {
        auto out = w.plan_for(site);
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        for (const PeerPlan& peer : out.state.peers)
            if (has(peer.allowed, p)) return peer.site;
        return "";
    };
    // Ranks in the configured lists: c costs 0 + 1, b costs 2 + 0.
    CHECK(carrier_of("s1", P("10.10.2.0/24")) == "c");
    CHECK(carrier_of("s2", P("10.10.1.0/24")) == "c");
    // And c itself carries both directly.
    CHECK(carrier_of("c", P("10.10.1.0/24")) == "s1");
    CHECK(carrier_of("c", P("10.10.2.0/24")) == "s2");
}

TEST_CASE("the default route goes to the first exit hub this site can reach, and back when it returns") {
    World w = three_reachable_hubs();
    // london [sanjose, sf], both default-route hubs; tokyo exits via sanjose, then sf.
    w.site("london").hubs[0].default_route = true;
    w.site("london").hubs[1].default_route = true;
    w.site("tokyo").exit_hubs = {"sanjose", "sf"};
    auto default_via = [&](const std::string& site) -> std::string {
        auto out = w.plan_for(site);
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        std::string via;
        for (const PeerPlan& p : out.state.peers)
            if (p.default_route) via += (via.empty() ? "" : ",") + p.site;
        return via;
    };
    CHECK(default_via("london") == "sanjose");
    CHECK(default_via("tokyo") == "sanjose");

    w.dead_hubs = {"sanjose"};
    CHECK(default_via("london") == "sf");
    CHECK(default_via("tokyo") == "sf");

    // Every exit dead: nothing is known, the configured first stands.
    w.dead_hubs = {"sanjose", "sf"};
    CHECK(default_via("london") == "sanjose");
    CHECK(default_via("tokyo") == "sanjose");

    w.dead_hubs.clear();
    CHECK(default_via("london") == "sanjose");
    CHECK(default_via("tokyo") == "sanjose");
}
