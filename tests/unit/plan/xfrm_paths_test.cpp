// Active-active over XFRM (docs/uplinks.md "Active-active"): path i >= 1
// of a pair is an XFRM interface, SAs and a key exchange of its own on port
// listen_port + i, with its own if_id and SPI tag. What avpnd's key
// exchange gives the plan (sessions, where a path's handshakes came from)
// is set by hand here, as XfrmKeying::add_inputs would.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

constexpr uint32_t kPath1IfId = own::kPathIfIdFirst + 1;  // group index 0, path 1

// hub sanjose (static contact), spoke london spreading over two uplinks.
World spreading_xfrm_spoke() {
    World w;
    w.group.transport = Transport::xfrm;
    w.hub("sanjose", {P("10.1.0.0/16")}).contact = E("192.0.2.50:51820");
    SiteSpec& london = w.spoke("london", {"sanjose"}, {P("10.10.1.0/24")});
    london.paths = 2;
    london.contact = E("198.51.100.7:51820");
    return w;
}

XfrmSessionSas up_session(uint32_t spi_in, uint32_t spi_out) {
    XfrmSessionSas s;
    s.inbound.push_back({spi_in, 10});
    s.outbound = SessionSa{spi_out, 11};
    return s;
}

// london under avpnd: wan0 and wan1, the given ones active, sessions up on
// both paths unless `path1_up` is false (its handshake still running).
PlanInputs london_inputs(const World& w, std::vector<std::string> active, bool path1_up = true) {
    PlanInputs in = w.inputs_for("london");
    in.uplink_addresses["wan0"] = A("198.51.100.7");
    in.uplink_addresses["wan1"] = A("203.0.113.9");
    in.uplink_default_routes["wan0"] = {nl::Route{planner::kMainTable, P("0.0.0.0/0"), "wan0", A("198.51.100.1"), {}, 100}};
    in.uplink_default_routes["wan1"] = {nl::Route{planner::kMainTable, P("0.0.0.0/0"), "wan1", A("203.0.113.1"), {}, 200}};
    in.active_uplinks = std::move(active);
    in.xfrm_handshake = true;
    in.xfrm_sessions[{"corp", "sanjose"}] = up_session(0x40000001, 0x40000002);
    XfrmSessionSas p1 = up_session(0x40000003, 0x40000004);
    if (!path1_up) p1.outbound.reset();
    in.xfrm_path_sessions[{"corp", "sanjose", 1}] = p1;
    return in;
}

std::vector<const nl::XfrmSa*> sas_with(const PlanOutcome& o, uint32_t if_id) {
    std::vector<const nl::XfrmSa*> out;
    for (const nl::XfrmSa& sa : o.state.xfrm_states)
        if (sa.if_id == if_id) out.push_back(&sa);
    return out;
}

const nl::XfrmSa* sa_to(const PlanOutcome& o, uint32_t if_id, const IpAddr& dst) {
    for (const nl::XfrmSa* sa : sas_with(o, if_id))
        if (sa->dst == dst) return sa;
    return nullptr;
}

bool routed(const PlanOutcome& o, uint32_t table, const Prefix& p, const std::string& dev) {
    for (const nl::Route& r : o.state.routes)
        if (r.table == table && r.dst == p && r.ifname == dev) return true;
    return false;
}

size_t policies(const PlanOutcome& o, uint32_t if_id, nl::XfrmDir dir) {
    size_t n = 0;
    for (const nl::XfrmPolicy& p : o.state.xfrm_policies)
        n += p.if_id == if_id && p.dir == dir && p.action != nl::XfrmAction::block;
    return n;
}

}  // namespace

TEST_CASE("xfrm paths: the spreading end's path 1 leaves by uplink 1, to the hub's contact + 1, on its own if_id") {
    World w = spreading_xfrm_spoke();
    PlanOutcome both = plan(w.intent_for("london"), london_inputs(w, {"wan0", "wan1"}));
    REQUIRE_MESSAGE(both.ok(), errors_text(both));
    // Path 1's interface: no address, its own if_id; rule and table 7301.
    bool link = false;
    for (const nl::Link& l : both.state.links)
        link |= l.name == "avpn-corp.p1" && l.kind == nl::LinkKind::xfrm && l.xfrm_if_id == kPath1IfId;
    CHECK(link);
    for (const auto& a : both.state.addresses) CHECK(a.ifname != "avpn-corp.p1");
    bool rule = false;
    for (const nl::Rule& r : both.state.rules) rule |= r.fwmark == 7301 && r.table == 7301;
    CHECK(rule);
    // Path 0 from wan0, path 1 from wan1; ports 51820 and 51821 at both ends.
    const nl::XfrmSa* p0 = sa_to(both, own::kIfIdFirst, A("192.0.2.50"));
    const nl::XfrmSa* p1 = sa_to(both, kPath1IfId, A("192.0.2.50"));
    REQUIRE(p0);
    REQUIRE(p1);
    CHECK(p0->src == A("198.51.100.7"));
    CHECK(p1->src == A("203.0.113.9"));
    CHECK(p1->encap_sport == 51821);
    CHECK(p1->encap_dport == 51821);
    CHECK(p1->spi == 0x40000004);
    CHECK(p1->key.session_key == 11);
    CHECK(sas_with(both, kPath1IfId).size() == 2);
    // Path 1 carries what the pair carries: a route in its table, policies on its if_id.
    CHECK(routed(both, 7301, P("10.1.0.0/16"), "avpn-corp.p1"));
    CHECK(policies(both, kPath1IfId, nl::XfrmDir::out) == policies(both, own::kIfIdFirst, nl::XfrmDir::out));
    CHECK(policies(both, kPath1IfId, nl::XfrmDir::in) > 0);
    // Its own default drop, so nothing routed into it leaves in clear.
    bool block = false;
    for (const nl::XfrmPolicy& p : both.state.xfrm_policies)
        block |= p.if_id == kPath1IfId && p.action == nl::XfrmAction::block;
    CHECK(block);

    // wan1 dead: path 1's SAs leave from wan0, nothing else about it moves.
    PlanOutcome wan1_dead = plan(w.intent_for("london"), london_inputs(w, {"wan0"}));
    REQUIRE(wan1_dead.ok());
    REQUIRE(sa_to(wan1_dead, kPath1IfId, A("192.0.2.50")));
    CHECK(sa_to(wan1_dead, kPath1IfId, A("192.0.2.50"))->src == A("198.51.100.7"));
    CHECK(routed(wan1_dead, 7301, P("10.1.0.0/16"), "avpn-corp.p1"));
    // wan0 dead: both paths from wan1.
    PlanOutcome wan0_dead = plan(w.intent_for("london"), london_inputs(w, {"wan1"}));
    CHECK(sa_to(wan0_dead, own::kIfIdFirst, A("192.0.2.50"))->src == A("203.0.113.9"));
    CHECK(sa_to(wan0_dead, kPath1IfId, A("192.0.2.50"))->src == A("203.0.113.9"));

    // Path 1's handshake not done (no outbound SA): no route in its table,
    // so its flows stay on path 0; its inbound SA is there for the answer.
    PlanOutcome waiting = plan(w.intent_for("london"), london_inputs(w, {"wan0", "wan1"}, false));
    REQUIRE(waiting.ok());
    CHECK_FALSE(routed(waiting, 7301, P("10.1.0.0/16"), "avpn-corp.p1"));
    CHECK(policies(waiting, kPath1IfId, nl::XfrmDir::out) == 0);
    CHECK(sas_with(waiting, kPath1IfId).size() == 1);
    CHECK(routed(waiting, 7100, P("10.1.0.0/16"), "avpn-corp"));
}

TEST_CASE("xfrm paths: the hub answers path 1 where its handshakes come from, on port 51821") {
    World w = spreading_xfrm_spoke();
    PlanInputs in = w.inputs_for("sanjose");
    in.xfrm_handshake = true;
    in.xfrm_sessions[{"corp", "london"}] = up_session(0x40000002, 0x40000001);
    in.xfrm_path_sessions[{"corp", "london", 1}] = up_session(0x40000004, 0x40000003);
    // Before london's first path-1 handshake: the interface, no SAs.
    PlanOutcome before = plan(w.intent_for("sanjose"), in);
    REQUIRE_MESSAGE(before.ok(), errors_text(before));
    CHECK(sas_with(before, kPath1IfId).empty());
    CHECK_FALSE(routed(before, 7301, P("10.10.1.0/24"), "avpn-corp.p1"));
    bool link = false;
    for (const nl::Link& l : before.state.links) link |= l.name == "avpn-corp.p1" && l.xfrm_if_id == kPath1IfId;
    CHECK(link);
    // After it: SAs to wan1's address and port, london's LAN in table 7301.
    in.path_roamed[{"corp", "london", 1}] = E("203.0.113.9:51821");
    PlanOutcome after = plan(w.intent_for("sanjose"), in);
    REQUIRE(after.ok());
    const nl::XfrmSa* out = sa_to(after, kPath1IfId, A("203.0.113.9"));
    REQUIRE(out);
    CHECK(out->src == A("192.0.2.50"));
    CHECK(out->encap_sport == 51821);
    CHECK(out->encap_dport == 51821);
    CHECK(routed(after, 7301, P("10.10.1.0/24"), "avpn-corp.p1"));
    CHECK(sa_to(after, own::kIfIdFirst, A("198.51.100.7")));  // path 0 stays at london's contact
}

TEST_CASE("xfrm paths: each path is a key exchange of its own, with SPIs no other path or group has") {
    World w = spreading_xfrm_spoke();
    planner::SitePieces spoke = planner::decide(w.intent_for("london"), london_inputs(w, {"wan0", "wan1"}));
    std::vector<planner::KeyingGroupView> views = planner::keying_views(spoke);
    REQUIRE(views.size() == 2);
    CHECK(views[0].path == 0);
    CHECK(views[1].path == 1);
    CHECK(views[1].listen_port == 51821);
    CHECK(views[1].if_id == kPath1IfId);
    REQUIRE(views[1].peers.size() == 1);
    CHECK(views[1].peers[0].endpoint == E("192.0.2.50:51821"));  // london initiates path 1
    CHECK(views[1].peers[0].reqid == views[0].peers[0].reqid);    // the if_id tells the paths apart
    for (uint32_t a : views[0].peers[0].inbound_spis)
        for (uint32_t b : views[1].peers[0].inbound_spis) CHECK(a != b);
    CHECK(planner::spi_tag("corp", 1) != planner::spi_tag("corp", 0));

    PlanInputs hub_in = w.inputs_for("sanjose");
    std::vector<planner::KeyingGroupView> hub = planner::keying_views(planner::decide(w.intent_for("sanjose"), hub_in));
    REQUIRE(hub.size() == 2);
    REQUIRE(hub[1].peers.size() == 1);
    CHECK_FALSE(hub[1].peers[0].endpoint);  // it answers: the path is where london's handshake comes from
    // Both ends agree on each path's SPIs: what one receives, the other sends.
    planner::SitePieces hub_pieces = planner::decide(w.intent_for("sanjose"), hub_in);
    const planner::GroupConstants& hc = hub_pieces.groups[0].constants;
    const planner::GroupConstants& sc = spoke.groups[0].constants;
    // (sender's slot, receiver's slot): the hub sends with its own slot to london's.
    CHECK(views[1].peers[0].inbound_spis[0] ==
          planner::derive_spi(planner::spi_tag("corp", 1), 0, hc.my_slot, hub_pieces.groups[0].peers[0].slot));
    CHECK(hub[1].peers[0].inbound_spis[0] ==
          planner::derive_spi(planner::spi_tag("corp", 1), 0, sc.my_slot, spoke.groups[0].peers[0].slot));
}

TEST_CASE("xfrm paths: a peer that runs one path has none, and the hub of a one-path pair has no path interface") {
    World w = spreading_xfrm_spoke();
    w.spoke("paris", {"sanjose"}, {P("10.20.1.0/24")});
    PlanInputs in = w.inputs_for("sanjose");
    std::vector<planner::KeyingGroupView> views = planner::keying_views(planner::decide(w.intent_for("sanjose"), in));
    REQUIRE(views.size() == 2);
    REQUIRE(views[1].peers.size() == 1);
    CHECK(views[1].peers[0].name == "london");

    World single = spreading_xfrm_spoke();
    single.site("london").paths = 1;
    PlanOutcome hub = single.plan_for("sanjose");
    REQUIRE(hub.ok());
    for (const nl::Link& l : hub.state.links) CHECK(l.name != "avpn-corp.p1");
    CHECK(planner::keying_views(planner::decide(single.intent_for("sanjose"), single.inputs_for("sanjose"))).size() == 1);
}
