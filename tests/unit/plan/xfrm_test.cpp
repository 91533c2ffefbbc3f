// XFRM transport: SAs both ends agree on, policies, ownership markers.
#include <doctest/doctest.h>

#include <set>
#include <tuple>

#include "helpers.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

World xfrm_pair() {
    World w;
    w.group.transport = Transport::xfrm;
    w.hub("sanjose", {P("10.1.0.0/16")}).contact = E("192.0.2.1:51820");
    w.spoke("london", {"sanjose"}, {P("10.10.1.0/24")}).contact = E("198.51.100.7:51820");
    w.spoke("paris", {"sanjose"}, {P("10.10.2.0/24")});  // no contact yet
    return w;
}

const nl::XfrmSa* sa_from(const DesiredState& s, const IpAddr& src) {
    for (const nl::XfrmSa& sa : s.xfrm_states)
        if (sa.src == src) return &sa;
    return nullptr;
}

}  // namespace

TEST_CASE("both ends derive the same SA pair with mirrored addresses, ports and key labels") {
    auto w = xfrm_pair();
    auto hub = w.plan_for("sanjose");
    auto spoke = w.plan_for("london");
    REQUIRE_MESSAGE(hub.ok(), errors_text(hub));
    REQUIRE_MESSAGE(spoke.ok(), errors_text(spoke));
    REQUIRE(spoke.state.xfrm_states.size() == 2);
    REQUIRE(hub.state.xfrm_states.size() == 2);  // paris is pending

    const IpAddr h = A("192.0.2.1"), l = A("198.51.100.7");
    const nl::XfrmSa* spoke_out = sa_from(spoke.state, l);
    const nl::XfrmSa* spoke_in = sa_from(spoke.state, h);
    const nl::XfrmSa* hub_out = sa_from(hub.state, h);
    const nl::XfrmSa* hub_in = sa_from(hub.state, l);
    REQUIRE((spoke_out && spoke_in && hub_out && hub_in));
    CHECK(spoke_out->dst == h);
    CHECK(spoke_out->spi == hub_in->spi);
    CHECK(spoke_in->spi == hub_out->spi);
    CHECK(spoke_out->spi != spoke_in->spi);
    CHECK(spoke_out->encap_sport == hub_in->encap_sport);
    CHECK(spoke_out->encap_dport == hub_in->encap_dport);
    CHECK(spoke_in->encap_sport == hub_out->encap_sport);
    CHECK(spoke_out->key.label == "london->sanjose");
    CHECK(hub_in->key.label == "london->sanjose");
    CHECK(spoke_out->key.peer_public_key == public_key_of("sanjose"));
    CHECK(hub_in->key.peer_public_key == public_key_of("london"));
    CHECK(spoke_out->key.private_key_file == "/etc/avpn/london.key");
    CHECK(spoke_out->key.epoch == 0);
    CHECK(spoke_out->aead == "rfc4106(gcm(aes))");
    CHECK(spoke_out->key_bits == 160);
    CHECK(spoke_out->icv_bits == 128);
    CHECK(spoke_out->replay_window > 0);
}

TEST_CASE("every planned SA has ESN, a 128-packet window and soft limits well before the hard ones") {
    auto out = xfrm_pair().plan_for("sanjose");
    REQUIRE(out.ok());
    REQUIRE_FALSE(out.state.xfrm_states.empty());
    static_assert(planner::kSaSoftBytes < planner::kSaHardBytes && planner::kSaSoftPackets < planner::kSaHardPackets);
    CHECK(planner::kSaSoftBytes == planner::kSaHardBytes / 4 * 3);
    for (const nl::XfrmSa& sa : out.state.xfrm_states) {
        CHECK(sa.esn);
        CHECK(sa.replay_window == 128);
        CHECK(sa.soft_bytes == 3ull << 40);
        CHECK(sa.soft_packets == 3ull << 30);
        CHECK(sa.hard_bytes == 4ull << 40);
        CHECK(sa.hard_packets == 1ull << 32);
        CHECK(sa.soft_seconds == 0);
        CHECK(sa.hard_seconds == 0);
    }
}

TEST_CASE("a group's rekey_bytes and rekey_packets become every SA's soft limits; the hard ones stay") {
    auto w = xfrm_pair();
    w.group.rekey_bytes = 65536;
    w.group.rekey_packets = 1000;
    auto out = w.plan_for("sanjose");
    REQUIRE(out.ok());
    REQUIRE_FALSE(out.state.xfrm_states.empty());
    for (const nl::XfrmSa& sa : out.state.xfrm_states) {
        CHECK(sa.soft_bytes == 65536);
        CHECK(sa.soft_packets == 1000);
        CHECK(sa.hard_bytes == planner::kSaHardBytes);
        CHECK(sa.hard_packets == planner::kSaHardPackets);
    }
}

TEST_CASE("XFRM objects carry avpn's markers: reqid and if_id ranges, one link") {
    auto out = xfrm_pair().plan_for("sanjose");
    REQUIRE(out.ok());
    REQUIRE(out.state.links.size() == 1);
    const nl::Link& link = out.state.links[0];
    CHECK(link.kind == nl::LinkKind::xfrm);
    CHECK(link.xfrm_if_id == own::kIfIdFirst);
    CHECK(own::owns_if_id(link.xfrm_if_id));
    for (const nl::XfrmSa& sa : out.state.xfrm_states) {
        CHECK(own::owns_reqid(sa.reqid));
        CHECK(sa.if_id == link.xfrm_if_id);
        CHECK(sa.spi > 255);
        CHECK((sa.spi < 0xc0000000u || sa.spi > 0xcfffffffu));  // charon's SPI range
    }
    for (const nl::XfrmPolicy& p : out.state.xfrm_policies) {
        CHECK(p.if_id == link.xfrm_if_id);
        for (const nl::XfrmTemplate& t : p.templates) CHECK(own::owns_reqid(t.reqid));
    }
}

TEST_CASE("policies: out/in/fwd per allowed prefix, plus a default-drop out policy") {
    auto out = xfrm_pair().plan_for("london");
    REQUIRE(out.ok());
    size_t allowed = peer(out.state, "sanjose")->allowed.size();
    size_t allow = 0, block = 0;
    for (const nl::XfrmPolicy& p : out.state.xfrm_policies) {
        if (p.action == nl::XfrmAction::block) {
            ++block;
            CHECK(p.dir == nl::XfrmDir::out);
            CHECK(p.priority == own::kPolicyDropPriority);
            CHECK(p.src == P("0.0.0.0/0"));
            CHECK(p.dst == P("0.0.0.0/0"));
            CHECK(p.templates.empty());
            continue;
        }
        ++allow;
        // The kernel does no longest-prefix match among policies: the more
        // specific peer-side selector must win by priority.
        const Prefix& specific = p.dir == nl::XfrmDir::out ? p.dst : p.src;
        CHECK(p.priority == own::kPolicyPriority + uint32_t(32 - specific.len));
        REQUIRE(p.templates.size() == 1);
        if (p.dir == nl::XfrmDir::out) {
            CHECK(p.templates[0].src == A("198.51.100.7"));
            CHECK(p.templates[0].dst == A("192.0.2.1"));
        } else {
            CHECK(p.templates[0].src == A("192.0.2.1"));
        }
    }
    CHECK(allow == 3 * allowed);
    CHECK(block == 1);
}

TEST_CASE("a peer without contact, or without a local uplink address, is pending") {
    auto w = xfrm_pair();
    auto hub = w.plan_for("sanjose");
    REQUIRE(hub.ok());
    CHECK(peer(hub.state, "paris")->pending.find("no contact") != std::string::npos);
    CHECK(peer(hub.state, "london")->pending.empty());
    for (const nl::XfrmSa& sa : hub.state.xfrm_states) CHECK(sa.key.label.find("paris") == std::string::npos);

    auto no_uplink = plan(w.intent_for("london"), PlanInputs{});
    REQUIRE(no_uplink.ok());
    CHECK(no_uplink.state.xfrm_states.empty());
    CHECK_FALSE(peer(no_uplink.state, "sanjose")->pending.empty());
    CHECK(no_uplink.state.routes.size() > 0);  // routes stay: traffic meets the drop policy
}

TEST_CASE("SAs stay unique in the kernel's (destination, SPI) table, also behind one NAT address") {
    World w = hub_and_spokes(300, 1, Transport::xfrm);
    w.site("s1").contact = E("203.0.113.5:40001");
    w.site("s2").contact = E("203.0.113.5:40002");  // same NAT address as s1
    auto out = w.plan_for("hub");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.xfrm_states.size() == 600);
    std::set<std::pair<IpAddr, uint32_t>> keys;
    std::set<uint32_t> reqids;
    for (const nl::XfrmSa& sa : out.state.xfrm_states) {
        CHECK(keys.insert({sa.dst, sa.spi}).second);
        reqids.insert(sa.reqid);
    }
    CHECK(reqids.size() == 300);  // one per peer, shared by its two SAs
}

TEST_CASE("the SPI layout keeps epoch, group tag and slots apart") {
    using planner::derive_spi;
    CHECK(derive_spi(5, 0, 1, 2) != derive_spi(5, 1, 1, 2));
    CHECK(derive_spi(5, 0, 1, 2) != derive_spi(6, 0, 1, 2));
    CHECK(derive_spi(5, 0, 1, 2) != derive_spi(5, 0, 2, 1));  // the two directions differ
    CHECK(derive_spi(5, 0, 1, 2) == derive_spi(5, 2, 1, 2));  // only the epoch's parity counts
    CHECK((derive_spi(5, 0, 1, 2) & 0x1fffff) == 3u);         // sender XOR receiver
    CHECK((derive_spi(0, 0, 0, 1) >> 30) == 1u);
}

TEST_CASE("two XFRM groups whose SPI tags meet are refused with both names") {
    std::string a = "g0", b;
    for (int i = 1; i < 2000 && b.empty(); ++i) {
        std::string n = "g" + std::to_string(i);
        if (planner::spi_tag(n, 0) == planner::spi_tag(a, 0)) b = n;
    }
    REQUIRE(!b.empty());
    auto w = xfrm_pair();
    Intent in = w.intent_for("london");
    in.groups[0].name = a;
    Group second = in.groups[0];
    second.name = b;
    second.interface = "avpn-b";
    second.table = 7101;
    second.rule_priority = 7020;
    second.tunnel_subnet = P("100.128.0.0/16");
    in.groups.push_back(second);
    auto out = plan(in, w.inputs_for("london"));
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].why.find(a) != std::string::npos);
    CHECK(out.errors[0].why.find(b) != std::string::npos);
}

TEST_CASE("XFRM full tunnel: the exit peer's 0/0 allow policy takes the drop policy's selector") {
    auto w = xfrm_pair();
    w.site("london").hubs[0].default_route = true;
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    size_t any_to_any_out = 0;
    for (const nl::XfrmPolicy& p : out.state.xfrm_policies) {
        if (p.dir != nl::XfrmDir::out || p.src != P("0.0.0.0/0") || p.dst != P("0.0.0.0/0")) continue;
        ++any_to_any_out;
        CHECK(p.action == nl::XfrmAction::allow);
        REQUIRE(p.templates.size() == 1);
        CHECK(p.templates[0].dst == A("192.0.2.1"));
    }
    CHECK(any_to_any_out == 1);  // the kernel keys policies by selector + if_id, not priority
}

TEST_CASE("with the handshake, a peer gets exactly its session's SAs, keyed by id, and none before") {
    auto w = xfrm_pair();
    w.spoke("rome", {"sanjose"}, {P("10.10.3.0/24")}).contact = E("203.0.113.9:51820");
    PlanInputs in = w.inputs_for("sanjose");
    const std::string group = w.intent_for("sanjose").groups.at(0).name;
    // london: a current session and a lingering inbound SA; rome: no
    // handshake yet.
    in.xfrm_handshake = true;
    in.xfrm_sessions[{group, "london"}] = XfrmSessionSas{{{0x41000001, 11}, {0x61000001, 12}}, SessionSa{0x45000002, 13}};
    auto hub = plan(w.intent_for("sanjose"), in);
    REQUIRE_MESSAGE(hub.ok(), errors_text(hub));

    const IpAddr h = A("192.0.2.1"), l = A("198.51.100.7"), r = A("203.0.113.9");
    std::set<std::tuple<uint32_t, uint64_t, bool>> london;  // spi, key id, outbound
    for (const nl::XfrmSa& sa : hub.state.xfrm_states) {
        CHECK(sa.src != r);  // rome: no SA before its first handshake
        CHECK(sa.dst != r);
        if (sa.src == l || sa.dst == l) {
            CHECK(sa.key.private_key_file.empty());
            CHECK(sa.key.label.empty());
            london.insert({sa.spi, sa.key.session_key, sa.src == h});
            CHECK(sa.reqid != 0);
        }
    }
    CHECK(london == std::set<std::tuple<uint32_t, uint64_t, bool>>{
                        {0x41000001, 11, false}, {0x61000001, 12, false}, {0x45000002, 13, true}});
    // rome's policies stand without SAs: its traffic is dropped, never sent in the clear.
    size_t rome_out_policies = 0;
    for (const nl::XfrmPolicy& p : hub.state.xfrm_policies)
        if (p.dir == nl::XfrmDir::out && p.dst == P("10.10.3.0/24")) {
            ++rome_out_policies;
            REQUIRE(p.templates.size() == 1);
            CHECK(p.templates[0].dst == r);
        }
    CHECK(rome_out_policies == 1);
}

TEST_CASE("a session change re-plans only that peer") {
    World w = hub_and_spokes(20, 2, Transport::xfrm);
    PlanInputs in = w.inputs_for("hub");
    const std::string group = w.intent_for("hub").groups.at(0).name;
    in.xfrm_handshake = true;
    IncrementalPlanner planner;
    planner.commit(planner.update(w.intent_for("hub"), in));
    in.xfrm_sessions[{group, "s4"}] = XfrmSessionSas{{{0x41000005, 7}}, SessionSa{0x41000105, 8}};
    auto u = planner.update(w.intent_for("hub"), in);
    REQUIRE_FALSE(u.full);
    CHECK(u.peers_changed == 1);
    CHECK(u.want.xfrm_states.size() == 2);
    CHECK(u.was.xfrm_states.empty());
    auto full = plan(w.intent_for("hub"), in);
    REQUIRE(full.ok());
    CHECK(full.state.xfrm_states.size() == 2);
}

TEST_CASE("a roamed peer's SAs and policy templates go to where it roamed, re-planning only that peer") {
    World w = hub_and_spokes(20, 2, Transport::xfrm);
    PlanInputs in = w.inputs_for("hub");
    const std::string group = w.intent_for("hub").groups.at(0).name;
    in.xfrm_handshake = true;
    in.xfrm_sessions[{group, "s4"}] = XfrmSessionSas{{{0x41000005, 7}}, SessionSa{0x41000105, 8}};
    IncrementalPlanner planner;
    planner.commit(planner.update(w.intent_for("hub"), in));
    const Endpoint moved = E("198.51.100.200:4500");
    in.roamed[{group, "s4"}] = moved;
    auto u = planner.update(w.intent_for("hub"), in);
    REQUIRE_FALSE(u.full);
    CHECK(u.peers_changed == 1);
    REQUIRE(u.want.xfrm_states.size() == 2);
    for (const nl::XfrmSa& sa : u.want.xfrm_states) {
        const bool outbound = sa.spi == 0x41000105;
        CHECK((outbound ? sa.dst : sa.src) == moved.addr);
        CHECK((outbound ? sa.encap_dport : sa.encap_sport) == moved.port);
    }
    size_t templates = 0;
    for (const nl::XfrmPolicy& p : u.want.xfrm_policies)
        for (const auto& t : p.templates) {
            CHECK((p.dir == nl::XfrmDir::out ? t.dst : t.src) == moved.addr);
            ++templates;
        }
    CHECK(templates > 0);
}
