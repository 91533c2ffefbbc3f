// Uplink steering (routing.hpp, docs/uplinks.md "Steering"): what avpnd's
// active uplinks make of the plan, and that nothing changes without them.
#include <doctest/doctest.h>

#include <set>

#include "helpers.hpp"
#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/routing.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

World small_group(Transport transport = Transport::wireguard) {
    World w;
    w.group.transport = transport;
    w.hub("sanjose", {P("10.1.0.0/16")});
    w.spoke("london", {"sanjose"}, {P("10.10.1.0/24")});
    w.site("london").contact = E("198.51.100.7:51820");
    w.site("sanjose").contact = E("192.0.2.50:51820");
    return w;
}

nl::Route default_via(const std::string& dev, const char* gateway, uint32_t metric) {
    return nl::Route{planner::kMainTable, P("0.0.0.0/0"), dev, *IpAddr::parse(gateway), {}, metric};
}

// london with wan0 (198.51.100.7, default via .1) and lte0 (203.0.113.9,
// default via .1), as avpnd reads them.
struct TwoUplinks {
    Intent in;
    PlanInputs inputs;
};

TwoUplinks two_uplinks(const World& w, std::vector<std::string> active) {
    TwoUplinks t{w.intent_for("london"), w.inputs_for("london")};
    t.in.site.uplinks = {{"wan0", {}}, {"lte0", {}}};
    t.inputs.uplink_addresses["lte0"] = *IpAddr::parse("203.0.113.9");
    t.inputs.uplink_default_routes["wan0"] = {default_via("wan0", "198.51.100.1", 100)};
    t.inputs.uplink_default_routes["lte0"] = {default_via("lte0", "203.0.113.1", 200),
                                              default_via("lte0", "203.0.113.254", 50)};
    t.inputs.active_uplinks = std::move(active);
    return t;
}

std::vector<nl::Rule> rules_at(const DesiredState& s, uint32_t priority) {
    std::vector<nl::Rule> out;
    for (const nl::Rule& r : s.rules)
        if (r.priority == priority) out.push_back(r);
    return out;
}

std::vector<nl::Route> routes_in(const DesiredState& s, uint32_t table) {
    std::vector<nl::Route> out;
    for (const nl::Route& r : s.routes)
        if (r.table == table) out.push_back(r);
    return out;
}

}  // namespace

TEST_CASE("steered: a table per uplink with its best default route, and the three rule steps") {
    auto w = small_group();
    auto t = two_uplinks(w, {"wan0"});
    auto out = plan(t.in, t.inputs);
    REQUIRE_MESSAGE(out.ok(), errors_text(out));

    auto wan0 = routes_in(out.state, 7200), lte0 = routes_in(out.state, 7201);
    REQUIRE(wan0.size() == 1);
    CHECK(wan0[0].dst == P("0.0.0.0/0"));
    CHECK(wan0[0].ifname == "wan0");
    CHECK(wan0[0].gateway == IpAddr::parse("198.51.100.1"));
    CHECK(wan0[0].metric == 0);
    REQUIRE(lte0.size() == 1);
    CHECK(lte0[0].gateway == IpAddr::parse("203.0.113.254"));  // metric 50 beats 200

    auto main_specific = rules_at(out.state, 7100);
    REQUIRE(main_specific.size() == 1);
    CHECK(main_specific[0].table == planner::kMainTable);
    CHECK(main_specific[0].suppress_prefixlen == 0);
    auto from = rules_at(out.state, 7102);
    REQUIRE(from.size() == 2);
    CHECK(from[0].src == P("198.51.100.7/32"));
    CHECK(from[0].table == 7200);
    CHECK(from[1].src == P("203.0.113.9/32"));
    CHECK(from[1].table == 7201);
    auto marked = rules_at(out.state, 7101);
    REQUIRE(marked.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        CHECK(marked[i].fwmark == 7200 + i);
        CHECK(marked[i].fwmask == 0xffffffffu);
        CHECK(marked[i].table == 7200 + i);
        CHECK_FALSE(marked[i].invert);
    }
    CHECK(out.state.wireguard[0].fwmark == 7200);
}

// The uplink guard (planner.cpp, docs/uplinks.md): table inet avpn's input
// chain drops WireGuard's ports on the uplinks the tunnels do not use.
std::vector<std::string> guard_of(const PlanOutcome& o) {
    std::vector<std::string> out;
    if (o.state.firewall)
        for (const fw::Rule& r : o.state.firewall->input) out.push_back(fw::rule_text(r));
    return out;
}

TEST_CASE("the uplink guard drops WireGuard's port on the uplinks not in use, and follows a switch") {
    auto w = small_group();
    auto t0 = two_uplinks(w, {"wan0", "lte0"}), t1 = two_uplinks(w, {"lte0"});
    auto on_wan0 = plan(t0.in, t0.inputs), on_lte0 = plan(t1.in, t1.inputs);
    REQUIRE(on_wan0.ok());
    REQUIRE(on_lte0.ok());
    CHECK(guard_of(on_wan0) == std::vector<std::string>{"meta nfproto ipv4 meta iifname \"lte0\" meta l4proto udp udp dport 51820 drop",
                                                       "meta nfproto ipv6 meta iifname \"lte0\" meta l4proto udp udp dport 51820 drop"});
    CHECK(guard_of(on_lte0) == std::vector<std::string>{"meta nfproto ipv4 meta iifname \"wan0\" meta l4proto udp udp dport 51820 drop",
                                                       "meta nfproto ipv6 meta iifname \"wan0\" meta l4proto udp udp dport 51820 drop"});
    // The rest of the table is the [[firewall]] rules', unchanged.
    on_wan0.state.firewall->input = on_lte0.state.firewall->input = {};
    CHECK(fw::render_firewall_json(*on_wan0.state.firewall) == fw::render_firewall_json(*on_lte0.state.firewall));
    // Nothing to guard: every uplink down (no active one), a one-shot, or XFRM.
    CHECK(guard_of(plan(two_uplinks(w, {}).in, two_uplinks(w, {}).inputs)).empty());
    PlanInputs oneshot = t0.inputs;
    oneshot.active_uplinks.reset();
    CHECK(guard_of(plan(t0.in, oneshot)).empty());
    auto x = small_group(Transport::xfrm);
    auto tx = two_uplinks(x, {"wan0"});
    CHECK(guard_of(plan(tx.in, tx.inputs)).empty());
}

TEST_CASE("a switch changes the WireGuard device's mark and nothing else") {
    auto w = small_group();
    auto t0 = two_uplinks(w, {"wan0"}), t1 = two_uplinks(w, {"lte0"});
    auto on_wan0 = plan(t0.in, t0.inputs), on_lte0 = plan(t1.in, t1.inputs);
    REQUIRE(on_wan0.ok());
    REQUIRE(on_lte0.ok());
    CHECK(on_lte0.state.wireguard[0].fwmark == 7201);
    CHECK(on_wan0.state.routes == on_lte0.state.routes);
    CHECK(on_wan0.state.rules == on_lte0.state.rules);
    CHECK(on_wan0.state.peers == on_lte0.state.peers);
    auto devices = on_lte0.state.wireguard;
    devices[0].fwmark = 7200;
    CHECK(devices == on_wan0.state.wireguard);
}

TEST_CASE("XFRM: the SAs' outer source follows the active uplink, the rules stay") {
    auto w = small_group(Transport::xfrm);
    auto t0 = two_uplinks(w, {"wan0"}), t1 = two_uplinks(w, {"lte0"});
    auto on_wan0 = plan(t0.in, t0.inputs), on_lte0 = plan(t1.in, t1.inputs);
    REQUIRE_MESSAGE(on_wan0.ok(), errors_text(on_wan0));
    REQUIRE_MESSAGE(on_lte0.ok(), errors_text(on_lte0));
    // Outbound SAs leave from the local uplink address, inbound ones arrive at it.
    auto local_ends = [](const DesiredState& s) {
        std::set<std::string> out;
        for (const nl::XfrmSa& sa : s.xfrm_states) {
            for (const IpAddr& a : {sa.src, sa.dst})
                if (a.str() != "192.0.2.50") out.insert(a.str());  // the hub's end
        }
        return out;
    };
    REQUIRE_FALSE(on_wan0.state.xfrm_states.empty());
    std::set<std::string> a = local_ends(on_wan0.state), b = local_ends(on_lte0.state);
    CHECK(a.count("198.51.100.7") == 1);
    CHECK(a.count("203.0.113.9") == 0);
    CHECK(b.count("203.0.113.9") == 1);
    CHECK(b.count("198.51.100.7") == 0);
    CHECK(on_wan0.state.rules == on_lte0.state.rules);
}

TEST_CASE("full tunnel steered: P+1 looks up each uplink's table, P+2 skips the active mark") {
    auto w = small_group();
    w.site("london").hubs[0].default_route = true;
    auto t = two_uplinks(w, {"lte0"});
    auto out = plan(t.in, t.inputs);
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    auto outer = rules_at(out.state, 7011);
    REQUIRE(outer.size() == 2);  // both uplinks, not only the active one
    CHECK(outer[0].src == P("198.51.100.7/32"));
    CHECK(outer[0].table == 7200);
    CHECK(outer[1].src == P("203.0.113.9/32"));
    CHECK(outer[1].table == 7201);
    for (const nl::Rule& r : outer) {  // unmarked packets only: WireGuard's go on to the steering
        CHECK(r.fwmark == 0);
        CHECK(r.fwmask == 0xffffffffu);
    }
    auto tunnel = rules_at(out.state, 7012);
    REQUIRE(tunnel.size() == 1);
    CHECK(tunnel[0].invert);
    CHECK(tunnel[0].fwmark == 7201);
    CHECK(out.state.wireguard[0].fwmark == 7201);
}

TEST_CASE("an uplink without a default route of its address's family keeps main for its source") {
    auto w = small_group();
    auto t = two_uplinks(w, {"wan0"});
    t.inputs.uplink_default_routes.erase("lte0");
    auto out = plan(t.in, t.inputs);
    REQUIRE(out.ok());
    CHECK(routes_in(out.state, 7201).empty());
    auto from = rules_at(out.state, 7102);
    REQUIRE(from.size() == 1);
    CHECK(from[0].src == P("198.51.100.7/32"));
    CHECK(rules_at(out.state, 7101).size() == 1);
    auto s = planner::uplink_steering(t.in, t.inputs);
    REQUIRE(s);
    CHECK(s->sources.size() == 2);
    CHECK(s->sources[1].second == planner::kMainTable);
}

TEST_CASE("no steering: a one-shot (no active uplinks), one uplink, or failover = false") {
    auto w = small_group();
    auto t = two_uplinks(w, {"wan0"});
    auto steered = plan(t.in, t.inputs);
    REQUIRE(steered.ok());
    CHECK_FALSE(rules_at(steered.state, 7100).empty());

    auto plain = [](const PlanOutcome& o) {
        for (const nl::Rule& r : o.state.rules) CHECK(r.priority < 7100);
        for (const nl::Route& r : o.state.routes) CHECK(r.table < 7200);
        CHECK(o.state.wireguard[0].fwmark == 0);
    };
    PlanInputs oneshot = t.inputs;
    oneshot.active_uplinks.reset();
    plain(plan(t.in, oneshot));

    Intent one = t.in;
    one.site.uplinks = {{"wan0", {}}};
    plain(plan(one, t.inputs));

    Intent no_failover = t.in;
    no_failover.site.failover = false;
    plain(plan(no_failover, t.inputs));
}

TEST_CASE("every uplink down: the mark stays the preferred uplink's, the addresses as without avpnd") {
    auto w = small_group(Transport::xfrm);
    auto t = two_uplinks(w, {});
    auto out = plan(t.in, t.inputs);
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    auto s = planner::uplink_steering(t.in, t.inputs);
    REQUIRE(s);
    CHECK(s->mark == 7200);
    // As a one-shot: the first uplink with an address is the outer source,
    // so the SAs are not torn down while no uplink works.
    CHECK(planner::known_uplink_addresses(t.in, t.inputs) ==
          std::vector<IpAddr>{*IpAddr::parse("198.51.100.7"), *IpAddr::parse("203.0.113.9")});
    t.inputs.active_uplinks = std::vector<std::string>{"lte0"};
    CHECK(planner::known_uplink_addresses(t.in, t.inputs) == std::vector<IpAddr>{*IpAddr::parse("203.0.113.9")});
}
