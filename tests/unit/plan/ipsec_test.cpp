// [[ipsec]] interop tunnels -> charon connections (+ route-based plumbing).
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"

using namespace avpn;
using namespace avpn::test;
using namespace std::chrono_literals;

namespace {

IpsecTunnel tunnel(const std::string& name) {
    IpsecTunnel t;
    t.name = name;
    t.remote = "203.0.113.7";
    t.psk_file = "/etc/avpn/" + name + ".psk";
    t.remote_networks = {P("172.31.0.0/16")};
    t.local_vlans = {"vlan0"};
    t.local_networks = {P("10.10.1.0/24")};
    t.loc = {"site.toml", 30, 1};
    return t;
}

// A lone site (no AutoVPN group) with interop tunnels.
Intent lone_site(std::vector<IpsecTunnel> tunnels) {
    Intent in;
    in.site.name = "london";
    in.site.role = Role::spoke;
    in.site.uplinks = {{"wan0", {}}};
    in.ipsec = std::move(tunnels);
    return in;
}

PlanInputs wan(const char* addr) {
    PlanInputs in;
    in.uplink_addresses["wan0"] = A(addr);
    return in;
}

}  // namespace

TEST_CASE("an initiator tunnel maps onto a charon connection") {
    auto out = plan(lone_site({tunnel("hq")}), wan("198.51.100.7"));
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.ipsec.size() == 1);
    const vici::Connection& c = out.state.ipsec[0];
    CHECK(c.name == "avpn-hq");
    CHECK(c.local_addrs == std::vector<std::string>{"198.51.100.7"});
    CHECK(c.remote_addrs == std::vector<std::string>{"203.0.113.7"});
    CHECK(c.local_id == "198.51.100.7");
    CHECK(c.remote_id == "203.0.113.7");
    CHECK(c.psk_file == "/etc/avpn/hq.psk");
    CHECK(c.version == 2);
    CHECK(c.rekey_time == 28800);
    CHECK(c.reauth_time == 0);
    CHECK(c.dpd_delay == 10);
    CHECK(c.dpd_timeout == 30);
    CHECK(c.if_id_in == 0);  // policy-based
    CHECK(c.local_port_bind == "wan0");
    CHECK(c.local_addrs_from == "uplink wan0");
    // generic partner: charon's own defaults, written out (no GCM, no x25519/ECP)
    CHECK(c.ike_proposals ==
          std::vector<std::string>{"aes128-aes192-aes256-sha256-sha384-sha512-sha1-modp3072-modp4096-modp6144-modp8192-modp2048"});
    CHECK(c.child.esp_proposals == std::vector<std::string>{"aes128-aes192-aes256-sha256-sha384-sha512-sha1"});
    CHECK(c.child.name == "avpn-hq-child");
    CHECK(c.child.local_ts == std::vector<std::string>{"10.10.1.0/24"});
    CHECK(c.child.remote_ts == std::vector<std::string>{"172.31.0.0/16"});
    CHECK(c.child.start_action == "start");
    CHECK(c.child.dpd_action == "start");  // restart
    CHECK(c.child.close_action == "start");
    CHECK(c.child.rekey_time == 3600);
    CHECK(out.state.links.empty());   // policy-based: charon installs policies
    CHECK(out.state.routes.empty());
}

TEST_CASE("responder, DPD actions, rekey off, reauth on, unknown local address") {
    IpsecTunnel t = tunnel("branch");
    t.initiator = false;
    t.rekey = false;
    t.reauth = true;
    t.dpd_action = DpdAction::hold;
    t.ike_lifetime = 4h;
    auto out = plan(lone_site({t}), PlanInputs{});
    REQUIRE(out.ok());
    const vici::Connection& c = out.state.ipsec[0];
    CHECK(c.local_addrs == std::vector<std::string>{"%any"});
    CHECK(c.local_id.empty());
    CHECK(c.local_addrs_from == "uplink wan0 at apply time");  // what the plan says instead
    CHECK(c.child.start_action == "none");
    CHECK(c.child.close_action == "none");
    CHECK(c.child.dpd_action == "clear");  // a responder: see the next test
    CHECK(c.rekey_time == 0);
    CHECK(c.reauth_time == 4 * 3600);
    CHECK(c.child.rekey_time == 0);
    CHECK(c.child.life_time > 3600);  // a hard limit beyond the peer's rekey

    t.dpd_action = DpdAction::clear;
    t.initiator = true;
    auto cleared = plan(lone_site({t}), PlanInputs{});
    CHECK(cleared.state.ipsec[0].child.dpd_action == "clear");
    CHECK(cleared.state.ipsec[0].child.close_action == "none");

    t.dpd_action = DpdAction::hold;
    auto held = plan(lone_site({t}), PlanInputs{});
    CHECK(held.state.ipsec[0].child.dpd_action == "trap");
    CHECK(held.state.ipsec[0].child.close_action == "trap");
}

// initiator = false promises responder only. charon's dpd_action "start"
// (restart) initiates a new IKE_SA when the peer is dead, and "trap" (hold)
// initiates at the next packet; neither may reach charon for a responder.
TEST_CASE("a responder never initiates: no start or trap in any of its actions") {
    for (DpdAction a : {DpdAction::restart, DpdAction::hold, DpdAction::clear}) {
        IpsecTunnel t = tunnel("resp");
        t.initiator = false;
        t.dpd_action = a;
        auto out = plan(lone_site({t}), wan("198.51.100.7"));
        REQUIRE(out.ok());
        const vici::ChildSa& ch = out.state.ipsec[0].child;
        INFO("dpd action " << int(a));
        CHECK(ch.start_action == "none");
        CHECK(ch.dpd_action == "clear");
        CHECK(ch.close_action == "none");
    }
}

TEST_CASE("explicit proposals win; partner defaults otherwise; disabled tunnels are skipped") {
    IpsecTunnel aws = tunnel("aws");
    aws.partner = IpsecPartner::aws;
    IpsecTunnel mine = tunnel("mine");
    mine.ike_proposals = {"aes128-sha256-ecp256", "aes128-sha256-ecp256"};
    IpsecTunnel off = tunnel("off");
    off.enabled = false;
    auto out = plan(lone_site({aws, mine, off}), wan("198.51.100.7"));
    REQUIRE(out.ok());
    REQUIRE(out.state.ipsec.size() == 2);
    CHECK(out.state.ipsec[0].ike_proposals == planner::partner_proposals(IpsecPartner::aws).ike);
    CHECK(out.state.ipsec[0].child.esp_proposals == planner::partner_proposals(IpsecPartner::aws).esp);
    CHECK(out.state.ipsec[1].ike_proposals == std::vector<std::string>{"aes128-sha256-ecp256"});
    CHECK_FALSE(planner::partner_proposals(IpsecPartner::azure).ike.empty());
}

TEST_CASE("route-based tunnels: if_ids in avpn's range, an xfrm link and routes over it") {
    IpsecTunnel aws = tunnel("aws");
    aws.partner = IpsecPartner::aws;
    IpsecTunnel route = tunnel("dc");
    route.type = IpsecTunnelType::route;
    route.remote_networks = {P("172.16.0.0/16"), P("2001:db8:99::/48")};
    route.interface = "avpn-dc";
    auto out = plan(lone_site({aws, route}), wan("198.51.100.7"));
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.links.size() == 2);
    for (const vici::Connection& c : out.state.ipsec) {
        CHECK(own::owns_if_id(c.if_id_in));
        CHECK(c.if_id_in == c.if_id_out);
        CHECK(c.if_id_in >= planner::kInteropIfIdFirst);
    }
    CHECK(out.state.ipsec[0].if_id_in != out.state.ipsec[1].if_id_in);
    for (const nl::Link& l : out.state.links) {
        CHECK(l.kind == nl::LinkKind::xfrm);
        const vici::Connection& c = l.name == "avpn-dc" ? out.state.ipsec[1] : out.state.ipsec[0];
        CHECK(l.xfrm_if_id == c.if_id_in);
    }
    CHECK(out.state.links[0].name == "avpn-dc");
    CHECK(out.state.links[1].name == "avpn-x-aws");
    // No AutoVPN group: avpn's interop table and one rule per family.
    CHECK(out.state.routes.size() == 3);
    for (const nl::Route& r : out.state.routes) CHECK(r.table == planner::kInteropTable);
    REQUIRE(out.state.rules.size() == 2);
    CHECK(out.state.rules[0].priority == planner::kInteropRulePriority);
    CHECK(out.state.rules[0].table == planner::kInteropTable);
}

TEST_CASE("with AutoVPN groups, interop routes join the table whose rules come first") {
    World w;
    w.hub("sanjose", {P("10.1.0.0/16")});
    w.spoke("london", {"sanjose"}, {P("10.10.1.0/24")});
    IpsecTunnel dc = tunnel("dc");
    dc.type = IpsecTunnelType::route;
    dc.if_id = planner::kInteropIfIdFirst + 3;  // configured: kept as is
    w.ipsec = {dc};
    auto out = w.plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    CHECK(out.state.ipsec[0].if_id_in == planner::kInteropIfIdFirst + 3);
    bool found = false;
    for (const nl::Route& r : out.state.routes)
        if (r.dst == P("172.31.0.0/16")) {
            found = true;
            CHECK(r.table == 7100);
            CHECK(r.ifname == "avpn-x-dc");
        }
    CHECK(found);
    CHECK(out.state.rules.size() == 2);  // only the group's (main's specific routes, its table)
}

TEST_CASE("two tunnels configured with one if_id are refused") {
    IpsecTunnel a = tunnel("a");
    IpsecTunnel b = tunnel("b");
    a.type = b.type = IpsecTunnelType::route;
    a.if_id = b.if_id = 77;
    b.remote_networks = {P("172.30.0.0/16")};
    auto out = plan(lone_site({a, b}), PlanInputs{});
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].why.find("share if_id 77") != std::string::npos);
}
