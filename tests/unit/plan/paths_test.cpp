// Active-active (docs/uplinks.md "Active-active"): which pairs run more than
// one path, what each path is in the plan at both ends, and how avpnd's
// active uplinks steer each path's device. The packet walk of the acme
// example (walk_acme_test.cpp) checks what the paths mean together.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/prefix_subtract.hpp"
#include "orchestrator/plan/routing.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// hub sanjose (static contact), spoke london spreading over two uplinks.
World spreading_spoke() {
    World w;
    w.hub("sanjose", {P("10.1.0.0/16")}).contact = E("192.0.2.50:51820");
    SiteSpec& london = w.spoke("london", {"sanjose"}, {P("10.10.1.0/24")});
    london.paths = 2;
    return w;
}

const nl::WgDevice* device(const PlanOutcome& o, const std::string& name) {
    for (const nl::WgDevice& d : o.state.wireguard)
        if (d.ifname == name) return &d;
    return nullptr;
}

const PeerPlan* peer(const PlanOutcome& o, const std::string& site) {
    for (const PeerPlan& p : o.state.peers)
        if (p.site == site) return &p;
    return nullptr;
}

// london under avpnd with wan0 and wan1, the given ones active.
PlanOutcome london_steered(const World& w, std::vector<std::string> active) {
    Intent in = w.intent_for("london");
    PlanInputs inputs = w.inputs_for("london");
    inputs.uplink_addresses["wan0"] = A("198.51.100.7");
    inputs.uplink_addresses["wan1"] = A("203.0.113.9");
    inputs.uplink_default_routes["wan0"] = {nl::Route{planner::kMainTable, P("0.0.0.0/0"), "wan0", A("198.51.100.1"), {}, 100}};
    inputs.uplink_default_routes["wan1"] = {nl::Route{planner::kMainTable, P("0.0.0.0/0"), "wan1", A("203.0.113.1"), {}, 200}};
    inputs.active_uplinks = std::move(active);
    return plan(in, inputs);
}

}  // namespace

TEST_CASE("paths: both ends run path 1 as a device of its own; the spreading end initiates it") {
    World w = spreading_spoke();
    PlanOutcome spoke = w.plan_for("london"), hub = w.plan_for("sanjose");
    REQUIRE(spoke.ok());
    REQUIRE(hub.ok());
    for (const PlanOutcome* o : {&spoke, &hub}) {
        const nl::WgDevice* p1 = device(*o, "avpn-corp.p1");
        REQUIRE(p1);
        const nl::WgDevice* p0 = device(*o, "avpn-corp");
        REQUIRE(p0);
        CHECK(p1->listen_port == p0->listen_port + 1);
        CHECK(p1->public_key == p0->public_key);
        REQUIRE(p1->peers.size() == 1);
        CHECK(p1->peers[0].allowed_ips == p0->peers[0].allowed_ips);  // each device's source check is its own
    }
    // london initiates path 1 at sanjose's contact + 1, with its keepalive;
    // sanjose learns where path 1 is from london's packets.
    const nl::WgPeer& to_hub = device(spoke, "avpn-corp.p1")->peers[0];
    CHECK(to_hub.endpoint == E("192.0.2.50:51821"));
    CHECK(to_hub.keepalive_seconds == 25);
    const nl::WgPeer& to_spoke = device(hub, "avpn-corp.p1")->peers[0];
    CHECK_FALSE(to_spoke.endpoint);
    CHECK(to_spoke.keepalive_seconds == 0);
    CHECK(peer(spoke, "sanjose")->paths == 2);
    CHECK(peer(hub, "london")->paths == 2);
    // Path 1's table and rule (group index 0: table and mark 7301).
    bool routed = false;
    for (const nl::Route& r : hub.state.routes) routed |= r.table == 7301 && r.dst == P("10.10.1.0/24") && r.ifname == "avpn-corp.p1";
    CHECK(routed);
    bool rule = false;
    for (const nl::Rule& r : hub.state.rules) rule |= r.fwmark == 7301 && r.table == 7301 && r.fwmask == 0xffffffff;
    CHECK(rule);
    // The spreading chain: both devices, marks 7300 + i, what the pair carries.
    REQUIRE(hub.state.firewall);
    REQUIRE(hub.state.firewall->paths.size() == 1);
    const fw::PathSpread& spread = hub.state.firewall->paths[0];
    CHECK(spread.devices == std::vector<std::string>{"avpn-corp", "avpn-corp.p1"});
    CHECK(spread.first_mark == 7300);
    CHECK(std::find(spread.remote.begin(), spread.remote.end(), P("10.10.1.0/24")) != spread.remote.end());
    CHECK(fw::render_firewall_json(*hub.state.firewall).find("\"jhash\"") != std::string::npos);
}

TEST_CASE("paths: a pair runs one path without a static contact at the fixed end, or when both spread") {
    World no_contact = spreading_spoke();
    no_contact.site("sanjose").live_contact = true;  // the registries give it: path 1's port is unknown
    CHECK(peer(no_contact.plan_for("london"), "sanjose")->paths == 1);
    CHECK(peer(no_contact.plan_for("sanjose"), "london")->paths == 1);
    CHECK_FALSE(device(no_contact.plan_for("sanjose"), "avpn-corp.p1"));

    World both = spreading_spoke();
    both.site("sanjose").paths = 2;
    CHECK(peer(both.plan_for("london"), "sanjose")->paths == 1);
    CHECK(peer(both.plan_for("sanjose"), "london")->paths == 1);
    CHECK_FALSE(both.plan_for("london").state.firewall->paths.size());

    // A peer of the hub that runs one path has no route in path 1's table.
    World mixed = spreading_spoke();
    mixed.spoke("paris", {"sanjose"}, {P("10.20.1.0/24")});
    PlanOutcome hub = mixed.plan_for("sanjose");
    for (const nl::Route& r : hub.state.routes) CHECK_FALSE((r.table == 7301 && r.dst == P("10.20.1.0/24")));
    REQUIRE(device(hub, "avpn-corp.p1"));
    CHECK(device(hub, "avpn-corp.p1")->peers.size() == 1);
}

TEST_CASE("paths under avpnd: each path's device leaves by its own uplink, a dead one's path takes the first left") {
    World w = spreading_spoke();
    PlanOutcome both = london_steered(w, {"wan0", "wan1"});
    REQUIRE(both.ok());
    CHECK(device(both, "avpn-corp")->fwmark == 7200);
    CHECK(device(both, "avpn-corp.p1")->fwmark == 7201);
    PlanOutcome wan0_dead = london_steered(w, {"wan1"});
    CHECK(device(wan0_dead, "avpn-corp")->fwmark == 7201);
    CHECK(device(wan0_dead, "avpn-corp.p1")->fwmark == 7201);
    PlanOutcome wan1_dead = london_steered(w, {"wan0"});
    CHECK(device(wan1_dead, "avpn-corp")->fwmark == 7200);
    CHECK(device(wan1_dead, "avpn-corp.p1")->fwmark == 7200);
    // Nothing else moves: the devices' marks are the whole switch.
    CHECK(both.state.routes == wan0_dead.state.routes);
    CHECK(both.state.rules == wan0_dead.state.rules);
    // The uplink guard keeps each path's port off the uplink it does not use.
    std::vector<std::string> guard;
    for (const fw::Rule& r : both.state.firewall->input) guard.push_back(fw::rule_text(r));
    CHECK(guard == std::vector<std::string>{
                       "meta nfproto ipv4 meta iifname \"wan1\" meta l4proto udp udp dport 51820 drop",
                       "meta nfproto ipv6 meta iifname \"wan1\" meta l4proto udp udp dport 51820 drop",
                       "meta nfproto ipv4 meta iifname \"wan0\" meta l4proto udp udp dport 51821 drop",
                       "meta nfproto ipv6 meta iifname \"wan0\" meta l4proto udp udp dport 51821 drop"});
}

TEST_CASE("subtract_prefixes: a prefix without the holes inside it, as the fewest prefixes") {
    using planner::subtract_prefixes;
    // /10 minus one /32: the 22 halves beside the path down to it.
    auto cut = subtract_prefixes({P("100.64.0.0/10")}, {P("100.64.0.5/32")});
    CHECK(cut.size() == 22);
    for (const Prefix& p : cut) CHECK_FALSE(p.contains(A("100.64.0.5")));
    uint64_t covered = 0;
    for (const Prefix& p : cut) covered += uint64_t(1) << (32 - p.len);
    CHECK(covered == (uint64_t(1) << 22) - 1);  // every other address of the /10
    // A hole equal to the prefix takes it all; one holding it, or outside it, nothing.
    CHECK(subtract_prefixes({P("10.1.0.0/24")}, {P("10.1.0.0/24")}).empty());
    CHECK(subtract_prefixes({P("10.1.0.0/24")}, {P("10.0.0.0/8")}) == std::vector<Prefix>{P("10.1.0.0/24")});
    CHECK(subtract_prefixes({P("10.1.0.0/24")}, {P("10.2.0.0/24")}) == std::vector<Prefix>{P("10.1.0.0/24")});
    // Two holes, IPv6 beside IPv4.
    CHECK(subtract_prefixes({P("0.0.0.0/0"), P("2001:db8::/32")}, {P("10.0.0.0/8"), P("128.0.0.0/1"), P("2001:db8::/33")}) ==
          std::vector<Prefix>{P("0.0.0.0/5"), P("8.0.0.0/7"), P("11.0.0.0/8"), P("12.0.0.0/6"), P("16.0.0.0/4"),
                              P("32.0.0.0/3"), P("64.0.0.0/2"), P("2001:db8:8000::/33")});
}

TEST_CASE("paths: a path table leaves out what the group's table routes to a single-path peer") {
    // london spreads; its hub sanjose (contact) carries the tunnel subnet and
    // paris's exports; hub sf (registry contact: one path) has a /32 inside
    // sanjose's tunnel subnet.
    World w;
    w.hub("sanjose", {P("10.1.0.0/16")}).contact = E("192.0.2.50:51820");
    SiteSpec& sf = w.hub("sf", {P("10.2.0.0/16")});
    sf.contact = E("192.0.2.60:51820");
    sf.live_contact = true;
    SiteSpec& london = w.spoke("london", {"sanjose", "sf"}, {P("10.10.1.0/24")});
    london.paths = 2;
    PlanOutcome o = w.plan_for("london");
    REQUIRE(o.ok());
    const nl::WgDevice* p1 = device(o, "avpn-corp.p1");
    REQUIRE(p1);
    REQUIRE(p1->peers.size() == 1);  // sanjose only: sf's contact is learned
    const PeerPlan* sfp = peer(o, "sf");
    REQUIRE(sfp);
    // On path 0, sanjose's prefixes hold one of sf's (the tunnel subnet holds
    // sf's tunnel address): the case that needs a hole.
    bool held = false;
    for (const Prefix& a : peer(o, "sanjose")->allowed)
        for (const Prefix& b : sfp->allowed) held = held || (a.contains(b) && !(a == b));
    REQUIRE(held);
    for (const Prefix& sf_prefix : sfp->allowed) {
        for (const Prefix& p : p1->peers[0].allowed_ips) CHECK_FALSE(p.overlaps(sf_prefix));
        for (const nl::Route& r : o.state.routes)
            if (r.table == 7301) CHECK_FALSE(r.dst.overlaps(sf_prefix));
    }
}

TEST_CASE("paths: three uplinks, three paths; a hub carries spokes of two and three paths at once") {
    World w = spreading_spoke();
    w.site("london").paths = 3;
    w.spoke("paris", {"sanjose"}, {P("10.20.1.0/24")}).paths = 2;
    PlanOutcome hub = w.plan_for("sanjose");
    REQUIRE_MESSAGE(hub.ok(), errors_text(hub));
    REQUIRE(device(hub, "avpn-corp.p2"));
    CHECK(device(hub, "avpn-corp.p2")->listen_port == 51822);
    CHECK(device(hub, "avpn-corp.p2")->peers.size() == 1);  // london only
    CHECK(device(hub, "avpn-corp.p1")->peers.size() == 2);
    auto routed = [&](uint32_t table, const Prefix& p) {
        for (const nl::Route& r : hub.state.routes)
            if (r.table == table && r.dst == p) return true;
        return false;
    };
    CHECK(routed(7302, P("10.10.1.0/24")));
    CHECK_FALSE(routed(7302, P("10.20.1.0/24")));  // paris runs two: its flows on path 2 fall through to path 0
    CHECK(routed(7301, P("10.20.1.0/24")));
    REQUIRE(hub.state.firewall);
    REQUIRE(hub.state.firewall->paths.size() == 1);
    CHECK(hub.state.firewall->paths[0].devices.size() == 3);
    // london: its path 2 leaves by wan2, under avpnd with all three up.
    Intent in = w.intent_for("london");
    PlanInputs inputs = w.inputs_for("london");
    for (int i = 0; i < 3; ++i) {
        const std::string n = "wan" + std::to_string(i);
        inputs.uplink_addresses[n] = IpAddr::v4(0xc6336400u + uint32_t(i + 1));
        inputs.uplink_default_routes[n] = {nl::Route{planner::kMainTable, P("0.0.0.0/0"), n, IpAddr::v4(0xc6336464u + uint32_t(i)), {}, uint32_t(100 * (i + 1))}};
    }
    inputs.active_uplinks = std::vector<std::string>{"wan0", "wan1", "wan2"};
    PlanOutcome london = plan(in, inputs);
    REQUIRE_MESSAGE(london.ok(), errors_text(london));
    CHECK(device(london, "avpn-corp.p2")->fwmark == 7202);
    REQUIRE(device(london, "avpn-corp.p2")->peers.size() == 1);
    CHECK(device(london, "avpn-corp.p2")->peers[0].endpoint == E("192.0.2.50:51822"));
    inputs.active_uplinks = std::vector<std::string>{"wan0", "wan1"};
    CHECK(device(plan(in, inputs), "avpn-corp.p2")->fwmark == 7200);  // wan2 dead: its path on the first active
}

TEST_CASE("paths with a full tunnel: the default route spreads, and no uplink's mark enters the tunnel") {
    World w = spreading_spoke();
    w.site("london").hubs[0].default_route = true;
    PlanOutcome both = london_steered(w, {"wan0", "wan1"});
    REQUIRE_MESSAGE(both.ok(), errors_text(both));
    // P+2 skips every uplink table's mark (7200-7203): path 1's device
    // sends with wan1's, which is not the active one.
    bool masked = false;
    for (const nl::Rule& r : both.state.rules)
        if (r.table == 7100 && r.invert) masked = r.fwmark == 7200 && r.fwmask == 0xfffffffc;
    CHECK(masked);
    // Path 1's table carries the exit hub's default route.
    bool default_on_path1 = false;
    for (const nl::Route& r : both.state.routes)
        default_on_path1 |= r.table == 7301 && r.dst == P("0.0.0.0/0") && r.ifname == "avpn-corp.p1";
    CHECK(default_on_path1);
    REQUIRE(both.state.firewall);
    REQUIRE(both.state.firewall->paths.size() == 1);
    const std::string json = fw::render_firewall_json(*both.state.firewall);
    CHECK(json.find("\"fib\"") != std::string::npos);      // nothing to the router itself takes a path
    CHECK(json.find("\"oifname\"") != std::string::npos);  // nor what it sends out of an uplink
    // Without active_active the rule skips the active mark alone.
    World single = spreading_spoke();
    single.site("london").paths = 1;
    single.site("london").hubs[0].default_route = true;
    PlanOutcome one = london_steered(single, {"wan0", "wan1"});
    size_t tunnel_rules = 0;
    for (const nl::Rule& r : one.state.rules)
        if (r.table == 7100 && r.invert) {
            ++tunnel_rules;
            CHECK(r.fwmask == 0xffffffff);
        }
    CHECK(tunnel_rules == 1);
}
