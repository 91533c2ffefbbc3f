// Build-then-parse round trips: every rtnetlink and XFRM message kind
// encodes a model value and parses back to the same value.
#include <doctest/doctest.h>

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "netlink/describe.hpp"
#include "netlink/rtnl_addr.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/rtnl_rule.hpp"
#include "netlink/xfrm.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

struct Msg {
    alignas(nlmsghdr) uint8_t bytes[8192];
    MsgWriter w{bytes, sizeof bytes, 0, 0};
    const nlmsghdr* h() const { return w.header(); }
};

}  // namespace

TEST_CASE("routes round-trip, tables above 255 included") {
    Route r;
    r.table = 7100;
    r.dst = pfx("10.20.0.0/16");
    r.gateway = ip("192.0.2.1");
    r.prefsrc = ip("192.0.2.10");
    r.metric = 50;
    Msg m;
    REQUIRE(encode_route(m.w, RouteOp::replace, r, 7, 147));
    CHECK(m.h()->nlmsg_type == RTM_NEWROUTE);
    CHECK((m.h()->nlmsg_flags & NLM_F_REPLACE));
    auto e = parse_route(m.h());
    REQUIRE(e);
    CHECK(e->oif == 7u);
    CHECK(e->protocol == 147);
    CHECK(e->type == RTN_UNICAST);
    CHECK(e->route == r);

    SUBCASE("IPv6 on-link, default route") {
        Route v6;
        v6.table = 100;
        v6.dst = pfx("::/0");
        Msg m6;
        REQUIRE(encode_route(m6.w, RouteOp::add, v6, 3, 147));
        auto e6 = parse_route(m6.h());
        REQUIRE(e6);
        CHECK(e6->route == v6);
        CHECK(fixed_header<rtmsg>(m6.h())->rtm_scope == RT_SCOPE_LINK);
    }
    SUBCASE("IPv4 via an IPv6 gateway uses RTA_VIA") {
        Route via = r;
        via.prefsrc.reset();
        via.gateway = ip("fe80::1");
        Msg mv;
        REQUIRE(encode_route(mv.w, RouteOp::add, via, 3, 147));
        auto ev = parse_route(mv.h());
        REQUIRE(ev);
        CHECK(ev->route == via);
    }
    SUBCASE("delete") {
        Msg md;
        REQUIRE(encode_route(md.w, RouteOp::remove, r, 7, 147));
        CHECK(md.h()->nlmsg_type == RTM_DELROUTE);
        CHECK(describe_request(NETLINK_ROUTE, md.h()).what == "delete route");
    }
}

TEST_CASE("a route with a preferred source of the other family is refused") {
    Route r;
    r.dst = pfx("10.0.0.0/8");
    r.prefsrc = ip("2001:db8::1");
    Msg m;
    CHECK_FALSE(encode_route(m.w, RouteOp::add, r, 1, 147));
}

TEST_CASE("rules round-trip with every selector") {
    Rule r;
    r.priority = 7010;
    r.family = Family::v4;
    r.table = 7100;
    r.src = pfx("10.1.0.0/16");
    r.dst = pfx("10.2.0.0/16");
    r.fwmark = 0x4156;
    r.fwmask = 0xffff;
    r.invert = true;
    r.suppress_prefixlen = 0;
    Msg m;
    REQUIRE(encode_rule(m.w, RuleOp::add, r, 147));
    auto back = parse_rule(m.h());
    REQUIRE(back);
    CHECK(*back == r);

    Rule v6;
    v6.priority = 7000;
    v6.family = Family::v6;
    v6.table = 300;
    Msg m6;
    REQUIRE(encode_rule(m6.w, RuleOp::remove, v6, 0));
    CHECK(m6.h()->nlmsg_type == RTM_DELRULE);
    auto back6 = parse_rule(m6.h());
    REQUIRE(back6);
    CHECK(*back6 == v6);
}

TEST_CASE("a rule selector of the other family is refused") {
    Rule r;
    r.family = Family::v6;
    r.src = pfx("10.0.0.0/8");
    Msg m;
    CHECK_FALSE(encode_rule(m.w, RuleOp::add, r, 0));
}

TEST_CASE("addresses round-trip") {
    for (const char* a : {"100.64.3.1", "fd00:4156::1"}) {
        InterfaceAddress addr{"avpn-g", ip(a), uint8_t(IpAddr::parse(a)->family == Family::v4 ? 10 : 64)};
        Msg m;
        REQUIRE(encode_address(m.w, AddrOp::add, addr, 12));
        auto e = parse_address(m.h());
        REQUIRE(e);
        CHECK(e->ifindex == 12u);
        addr.ifname.clear();  // names come from a LinkIndex, not the wire
        CHECK(e->address == addr);
    }
    Msg bad;
    CHECK_FALSE(encode_address(bad.w, AddrOp::add, InterfaceAddress{"x", ip("10.0.0.1"), 33}, 1));
    CHECK_FALSE(encode_address(bad.w, AddrOp::add, InterfaceAddress{"x", ip("10.0.0.1"), 24}, 0));
}

TEST_CASE("xfrm and wireguard links round-trip through the model") {
    Link x;
    x.name = "avpn-ipsec1";
    x.kind = LinkKind::xfrm;
    x.mtu = 1400;
    x.xfrm_if_id = 0x41560001;
    x.underlay = "eth0";
    Msg m;
    REQUIRE(encode_link_create(m.w, x, 2));
    CHECK((m.h()->nlmsg_flags & NLM_F_CREATE));
    auto s = parse_link(m.h());
    REQUIRE(s);
    CHECK(s->kind == "xfrm");
    CHECK(s->xfrm_if_id == 0x41560001u);
    CHECK(s->parent == 2u);
    LinkIndex names;
    names.add(2, "eth0");
    auto model = to_model(*s, names);
    REQUIRE(model);
    // A create asks for the link down; the port raises it afterwards.
    CHECK_FALSE(model->up);
    model->up = true;
    CHECK(*model == x);

    Link wg;
    wg.name = "avpn-corp";
    wg.wg_impl = WgImpl::kernel;  // a link of kind wireguard is the kernel module's
    Msg mw;
    REQUIRE(encode_link_create(mw.w, wg, 0));
    auto sw = parse_link(mw.h());
    REQUIRE(sw);
    CHECK(sw->kind == "wireguard");
    wg.up = false;
    CHECK(to_model(*sw, names) == wg);
}

TEST_CASE("link names longer than IFNAMSIZ are refused") {
    Msg m;
    CHECK_FALSE(encode_link_delete(m.w, "a-name-of-sixteen"));
    CHECK_FALSE(encode_link_set_up(m.w, "", true));
}

TEST_CASE("a plain link's state parses without linkinfo") {
    Msg m;
    m.w.set_type(RTM_NEWLINK, 0);
    auto* ifi = m.w.put_fixed<ifinfomsg>();
    ifi->ifi_index = 3;
    ifi->ifi_flags = IFF_UP | IFF_LOWER_UP;
    m.w.put_str(IFLA_IFNAME, "eth0");
    m.w.put_u32(IFLA_MTU, 1500);
    m.w.put_u8(IFLA_OPERSTATE, 6);  // IF_OPER_UP
    auto s = parse_link(m.h());
    REQUIRE(s);
    CHECK(s->name == "eth0");
    CHECK(s->up());
    CHECK(s->oper_state == 6);
    CHECK(s->kind.empty());
    CHECK_FALSE(to_model(*s, LinkIndex{}));
}

namespace {

XfrmSa sample_sa() {
    XfrmSa sa;
    sa.src = ip("192.0.2.1");
    sa.dst = ip("198.51.100.7");
    sa.spi = 0xc0ffee01;
    sa.reqid = 0x41560003;
    sa.mark = {0x10, 0xff};
    sa.if_id = 0x41560001;
    sa.encap_sport = 4500;
    sa.encap_dport = 4501;
    sa.soft_bytes = 1 << 30;
    sa.hard_seconds = 3600;
    sa.soft_seconds = 3300;
    return sa;
}

}  // namespace

TEST_CASE("SAs round-trip without their key, replay windows both ways") {
    std::vector<uint8_t> key(20, 0x5a);
    for (uint32_t window : {128u, 32u, 0u}) {
        XfrmSa sa = sample_sa();
        sa.esn = false;  // ESN states: xfrm_sa_test.cpp
        sa.replay_window = window;
        Msg m;
        REQUIRE(encode_sa(m.w, XfrmWrite::add, sa, Bytes(key.data(), key.size())));
        CHECK(m.h()->nlmsg_type == XFRM_MSG_NEWSA);
        auto back = parse_sa(m.h());
        REQUIRE(back);
        CHECK(*back == sa);  // KeyRef empty on both sides
    }
    XfrmSa v6 = sample_sa();
    v6.src = ip("2001:db8::1");
    v6.dst = ip("2001:db8::2");
    v6.encap_sport = v6.encap_dport = 0;
    v6.esn = false;
    Msg m6;
    REQUIRE(encode_sa(m6.w, XfrmWrite::update, v6, Bytes(key.data(), key.size())));
    CHECK(m6.h()->nlmsg_type == XFRM_MSG_UPDSA);
    auto back6 = parse_sa(m6.h());
    REQUIRE(back6);
    CHECK(*back6 == v6);
}

TEST_CASE("an SA's key bytes land in the message and must match its size") {
    XfrmSa sa = sample_sa();
    std::vector<uint8_t> key(20);
    for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i + 1);
    Msg m;
    REQUIRE(encode_sa(m.w, XfrmWrite::add, sa, Bytes(key.data(), key.size())));
    AttrTable<XFRMA_MAX + 1> t{};
    REQUIRE(parse_attrs(attrs_after(m.h(), sizeof(xfrm_usersa_info)), t));
    REQUIRE(t[XFRMA_ALG_AEAD].data.size() == sizeof(xfrm_algo_aead) + 20);
    CHECK(std::equal(key.begin(), key.end(), t[XFRMA_ALG_AEAD].data.begin() + sizeof(xfrm_algo_aead)));

    std::vector<uint8_t> short_key(16);
    Msg m2;
    Status st = encode_sa(m2.w, XfrmWrite::add, sa, Bytes(short_key.data(), short_key.size()));
    REQUIRE_FALSE(st);
    CHECK(st.error().why.find("128 bits") != std::string::npos);
    sa.spi = 0;
    CHECK_FALSE(encode_sa(m2.w, XfrmWrite::add, sa, Bytes(key.data(), key.size())));
}

TEST_CASE("an SA delete names the SA by its key fields") {
    Msg m;
    REQUIRE(encode_sa_delete(m.w, sample_sa()));
    CHECK(m.h()->nlmsg_type == XFRM_MSG_DELSA);
    Description d = describe_request(NETLINK_XFRM, m.h());
    CHECK(d.what == "delete xfrm sa");
    CHECK(d.where.find("198.51.100.7 spi 0xc0ffee01") != std::string::npos);
}

TEST_CASE("policies round-trip with templates, mark and if_id") {
    XfrmPolicy p;
    p.src = pfx("10.1.0.0/16");
    p.dst = pfx("10.2.0.0/16");
    p.dir = XfrmDir::fwd;
    p.priority = 1000;
    p.mark = {0x4156, 0xffff};
    p.if_id = 0x41560001;
    p.templates = {{ip("192.0.2.1"), ip("198.51.100.7"), 0x41560003, false},
                   {ip("192.0.2.1"), ip("198.51.100.8"), 0x41560004, true}};
    Msg m;
    REQUIRE(encode_policy(m.w, XfrmWrite::update, p));
    CHECK(m.h()->nlmsg_type == XFRM_MSG_UPDPOLICY);
    auto back = parse_policy(m.h());
    REQUIRE(back);
    CHECK(*back == p);

    XfrmPolicy drop;
    drop.src = pfx("::/0");
    drop.dst = pfx("fd00::/8");
    drop.action = XfrmAction::block;
    drop.priority = 2000;
    Msg md;
    REQUIRE(encode_policy(md.w, XfrmWrite::add, drop));
    auto back_drop = parse_policy(md.h());
    REQUIRE(back_drop);
    CHECK(*back_drop == drop);

    Msg del;
    REQUIRE(encode_policy_delete(del.w, p));
    CHECK(describe_request(NETLINK_XFRM, del.h()).where == "policy 10.1.0.0/16->10.2.0.0/16 dir 2");
}

TEST_CASE("policy ownership: a template reqid in range, or (no templates) the if_id range") {
    auto owned = policy_owned(IdRange{0x41560000, 0x4156ffff}, IdRange{0x41560001, 0x415600ff});
    XfrmPolicy p;
    CHECK_FALSE(owned(p));
    p.if_id = 0x41560002;
    CHECK(owned(p));  // a group's drop policy
    p.if_id = 7;
    p.templates.push_back({ip("1.1.1.1"), ip("2.2.2.2"), 0x41561234, false});
    CHECK(owned(p));
    p.templates[0].reqid = 5;
    CHECK_FALSE(owned(p));
    // charon's policy for a route-based interop tunnel: avpn's if_id, charon's reqid
    p.if_id = 0x41560080;
    p.templates[0].reqid = 1;
    CHECK_FALSE(owned(p));
}

TEST_CASE("truncated messages of every kind are rejected") {
    Route r;
    r.table = 1;
    r.dst = pfx("10.0.0.0/8");
    Msg m;
    REQUIRE(encode_route(m.w, RouteOp::add, r, 1, 147));
    std::vector<uint8_t> bytes(m.bytes, m.bytes + m.h()->nlmsg_len);
    auto* h = reinterpret_cast<nlmsghdr*>(bytes.data());
    h->nlmsg_len = NLMSG_HDRLEN + 4;  // shorter than rtmsg
    CHECK_FALSE(parse_route(h));
    CHECK_FALSE(parse_rule(h));
    CHECK_FALSE(parse_address(h));
    CHECK_FALSE(parse_link(h));
    CHECK_FALSE(parse_sa(h));
    CHECK_FALSE(parse_policy(h));

    // An attribute whose length points past the message.
    h->nlmsg_len = m.h()->nlmsg_len;
    bytes[NLMSG_HDRLEN + sizeof(rtmsg)] = 0xff;
    CHECK_FALSE(parse_route(h));
}

TEST_CASE("an 802.1Q subinterface reports its VLAN id and parent") {
    Msg m;
    m.w.set_type(RTM_NEWLINK, 0);
    m.w.put_fixed<ifinfomsg>()->ifi_index = 9;
    m.w.put_str(IFLA_IFNAME, "eth0.100");
    m.w.put_u32(IFLA_LINK, 2);
    auto info = m.w.begin_nest(IFLA_LINKINFO);
    REQUIRE(info);
    m.w.put_str(IFLA_INFO_KIND, "vlan");
    auto data = m.w.begin_nest(IFLA_INFO_DATA);
    REQUIRE(data);
    m.w.put_u16(IFLA_VLAN_ID, 100);
    m.w.put_u32(IFLA_VLAN_PROTOCOL + 20, 1);  // an attribute this build does not know
    m.w.end_nest(*data);
    m.w.end_nest(*info);
    REQUIRE_FALSE(m.w.full());
    auto s = parse_link(m.h());
    REQUIRE(s);
    CHECK(s->kind == "vlan");
    CHECK(s->vlan_id == 100);
    CHECK(s->parent == 2u);
    CHECK_FALSE(to_model(*s, LinkIndex{}));  // not a kind avpn creates
}
