// Routes in the group's table and rules in avpn's band: split and full tunnel.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "orchestrator/plan/routing.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

World small_group() {
    World w;
    w.hub("sanjose", {P("10.1.0.0/16")});
    w.hub("sf", {P("10.2.0.0/16")});
    w.spoke("london", {"sanjose", "sf"}, {P("10.10.1.0/24")});
    w.site("london").contact = E("198.51.100.7:51820");
    return w;
}

bool routed(const DesiredState& s, const Prefix& p, uint32_t table) {
    for (const nl::Route& r : s.routes)
        if (r.dst == p && r.table == table) return true;
    return false;
}

}  // namespace

TEST_CASE("split tunnel: one route per allowed prefix; main's specific routes, then the group table") {
    auto w = small_group();
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    size_t allowed = 0;
    for (const PeerPlan& p : out.state.peers) {
        allowed += p.allowed.size();
        for (const Prefix& a : p.allowed) CHECK(routed(out.state, a, 7100));
    }
    CHECK(out.state.routes.size() == allowed);  // the tunnel subnet is one of them
    for (const nl::Route& r : out.state.routes) {
        CHECK(r.ifname == "avpn-corp");
        CHECK_FALSE(r.gateway);
    }
    CHECK_FALSE(routed(out.state, P("10.10.1.0/24"), 7100));  // own export: never
    // Main's specific routes (connected, static) first, then avpn's table.
    REQUIRE(out.state.rules.size() == 2);
    const nl::Rule& local_wins = out.state.rules[0];
    CHECK(local_wins.priority == 7010);
    CHECK(local_wins.table == 254);
    CHECK(local_wins.suppress_prefixlen == 0);
    const nl::Rule& rule = out.state.rules[1];
    CHECK(rule.priority == 7012);
    CHECK(rule.table == 7100);
    CHECK(rule.fwmark == 0);
    CHECK(rule.suppress_prefixlen == -1);
    CHECK_FALSE(rule.src);
    CHECK(out.state.wireguard[0].fwmark == 0);
    CHECK_FALSE(out.state.groups[0].full_tunnel);
}

TEST_CASE("full tunnel through a default_route hub: default route, wg-quick style rules, fwmark") {
    auto w = small_group();
    w.site("london").hubs[1].default_route = true;  // sf
    auto out = w.plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    const PeerPlan* sf = peer(out.state, "sf");
    CHECK(sf->default_route);
    CHECK(has(sf->allowed, P("0.0.0.0/0")));
    CHECK_FALSE(has(sf->allowed, P("::/0")));  // no IPv6 exports in the group
    CHECK_FALSE(peer(out.state, "sanjose")->default_route);
    CHECK(routed(out.state, P("0.0.0.0/0"), 7100));
    CHECK(out.state.groups[0].full_tunnel);
    CHECK(out.state.wireguard[0].fwmark == 7100);

    REQUIRE(out.state.rules.size() == 3);
    const nl::Rule& main_specific = out.state.rules[0];
    CHECK(main_specific.priority == 7010);
    CHECK(main_specific.table == planner::kMainTable);
    CHECK(main_specific.suppress_prefixlen == 0);
    const nl::Rule& outer = out.state.rules[1];
    CHECK(outer.priority == 7011);
    CHECK(outer.table == planner::kMainTable);
    CHECK(outer.src == P("198.51.100.7/32"));
    const nl::Rule& tunnel = out.state.rules[2];
    CHECK(tunnel.priority == 7012);
    CHECK(tunnel.table == 7100);
    CHECK(tunnel.invert);
    CHECK(tunnel.fwmark == 7100);
    CHECK(tunnel.fwmask == 0xffffffffu);
}

TEST_CASE("full tunnel adds ::/0 when the group exports IPv6") {
    auto w = small_group();
    w.site("sf").exports.push_back(P("2001:db8:2::/48"));
    w.site("london").hubs[0].default_route = true;
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    CHECK(has(peer(out.state, "sanjose")->allowed, P("::/0")));
    bool v6_catch_all = false;
    for (const nl::Rule& r : out.state.rules)
        v6_catch_all = v6_catch_all || (r.family == Family::v6 && r.table == 7100 && r.invert);
    CHECK(v6_catch_all);
}

TEST_CASE("a hub with exit hubs sends its default route to the first one") {
    auto w = small_group();
    w.hub("zurich", {P("10.3.0.0/16")});
    w.site("sanjose").exit_hubs = {"zurich", "sf"};
    auto out = w.plan_for("sanjose");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    CHECK(peer(out.state, "zurich")->default_route);
    CHECK_FALSE(peer(out.state, "sf")->default_route);
    CHECK(out.state.groups[0].full_tunnel);
    CHECK(out.state.rules.size() == 2);  // no uplink address known: no `from` rule
}

TEST_CASE("XFRM full tunnel: no fwmark, the catch-all rule is a plain lookup") {
    auto w = small_group();
    w.group.transport = Transport::xfrm;
    w.site("london").hubs[0].default_route = true;
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    REQUIRE(out.state.rules.size() == 3);
    CHECK(out.state.rules[2].table == 7100);
    CHECK_FALSE(out.state.rules[2].invert);
    CHECK(out.state.rules[2].fwmark == 0);
    CHECK(out.state.rules[1].src == P("198.51.100.7/32"));
}

TEST_CASE("a rule slot outside avpn's band is an error") {
    auto w = small_group();
    w.group.rule_priority = 7098;
    auto out = w.plan_for("london");
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].why.find("7098") != std::string::npos);
}

TEST_CASE("failover = false: only the first uplink's address counts") {
    auto w = small_group();
    w.site("london").hubs[1].default_route = true;  // full tunnel: one outer rule per uplink address
    Intent in = w.intent_for("london");
    in.site.uplinks = {{"wan0", {}}, {"lte0", {}}};
    PlanInputs inputs = w.inputs_for("london");
    inputs.uplink_addresses["lte0"] = *IpAddr::parse("203.0.113.9");
    auto outer_sources = [](const DesiredState& s) {
        std::vector<Prefix> out;
        for (const nl::Rule& r : s.rules)
            if (r.priority == 7011) out.push_back(*r.src);
        return out;
    };

    in.site.failover = true;
    auto both = plan(in, inputs);
    REQUIRE_MESSAGE(both.ok(), errors_text(both));
    CHECK(outer_sources(both.state) == std::vector<Prefix>{P("198.51.100.7/32"), P("203.0.113.9/32")});

    in.site.failover = false;
    auto first = plan(in, inputs);
    REQUIRE_MESSAGE(first.ok(), errors_text(first));
    CHECK(outer_sources(first.state) == std::vector<Prefix>{P("198.51.100.7/32")});

    // wan0 without an address: failover moves to lte0; without it, nothing.
    inputs.uplink_addresses.erase("wan0");
    in.site.failover = true;
    CHECK(outer_sources(plan(in, inputs).state) == std::vector<Prefix>{P("203.0.113.9/32")});
    in.site.failover = false;
    CHECK(outer_sources(plan(in, inputs).state).empty());
}
