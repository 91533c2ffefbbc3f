// ctnetlink (netlink/conntrack.hpp): an entry survives the kernel's message
// shape; a dump asks the kernel for UDP of one family and checks both again
// (a kernel before CTA_FILTER sends everything); a delete names the entry by
// its original tuple, zone and id, and a missing entry is ENOENT.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include "netlink/conntrack.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

CtEntry entry(const char* src, uint16_t sport, const char* dst, uint16_t dport, const char* nat_src, uint16_t nat_port) {
    CtEntry e;
    e.family = ip(src).family;
    e.l4proto = IPPROTO_UDP;
    e.orig = {ip(src), ip(dst), sport, dport};
    e.reply = {ip(dst), ip(nat_src), dport, nat_port};
    return e;
}

std::vector<uint8_t> entry_msg(uint32_t seq, const CtEntry& e) {
    return test::build(0, 0, seq, [&](MsgWriter& w) { encode_conntrack(w, e); });
}

// The attributes of a sent request, after its nfgenmsg.
AttrTable<CTA_MAX + 1> request_attrs(Bytes d, uint8_t* family = nullptr) {
    const nlmsghdr* h = test::messages(d).at(0);
    AttrTable<CTA_MAX + 1> t{};
    auto g = read_message<nfgenmsg>(h, t, "test");
    REQUIRE(g);
    if (family) *family = g->nfgen_family;
    return t;
}

}  // namespace

TEST_CASE("conntrack: an entry round-trips through the kernel's message") {
    CtEntry e = entry("203.0.113.2", 51820, "192.0.2.1", 51820, "198.51.100.2", 40001);
    e.mark = 0x1c20;
    e.zone = 7;
    e.id = 0xdeadbeef;
    auto m = entry_msg(1, e);
    auto back = parse_conntrack(reinterpret_cast<const nlmsghdr*>(m.data()));
    REQUIRE(back);
    CHECK(*back == e);
    CHECK(back->str() == "udp 203.0.113.2:51820 -> 192.0.2.1:51820 reply 192.0.2.1:51820 -> 198.51.100.2:40001 zone 7 mark 7200");

    CtEntry v6 = entry("2001:db8::2", 51820, "2001:db8:1::1", 51820, "2001:db8::2", 51820);
    auto m6 = entry_msg(1, v6);
    auto back6 = parse_conntrack(reinterpret_cast<const nlmsghdr*>(m6.data()));
    REQUIRE(back6);
    CHECK(*back6 == v6);
}

TEST_CASE("conntrack: a message without its reply tuple is an error, not an entry") {
    auto m = test::build(0, 0, 1, [](MsgWriter& w) {
        w.set_type(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW, 0);
        auto* g = w.put_fixed<nfgenmsg>();
        g->nfgen_family = AF_INET;
        w.put_u32(CTA_MARK, 0);
    });
    auto e = parse_conntrack(reinterpret_cast<const nlmsghdr*>(m.data()));
    REQUIRE_FALSE(e);
    CHECK(e.error().why.find("tuple") != std::string::npos);
}

TEST_CASE("conntrack: the dump asks for UDP of one family and filters again") {
    test::FakeTransport t(NETLINK_NETFILTER);
    CtEntry tunnel = entry("203.0.113.2", 51820, "192.0.2.1", 51820, "203.0.113.2", 51820);
    CtEntry dns = entry("10.1.1.5", 40000, "9.9.9.9", 53, "203.0.113.2", 40000);
    CtEntry tcp = entry("10.1.1.5", 40000, "9.9.9.9", 443, "203.0.113.2", 40000);
    tcp.l4proto = IPPROTO_TCP;
    CtEntry v6 = entry("2001:db8::2", 51820, "2001:db8:1::1", 51820, "2001:db8::2", 51820);
    t.kernel = [&](Bytes d) {
        uint32_t seq = test::messages(d)[0]->nlmsg_seq;
        // As a kernel without CTA_FILTER answers: every entry of every family.
        return test::Datagrams{test::concat({entry_msg(seq, tunnel), entry_msg(seq, tcp), entry_msg(seq, v6),
                                             entry_msg(seq, dns)}),
                               test::done(seq)};
    };
    auto all = dump_conntrack_udp(t, Family::v4);
    REQUIRE(all);
    CHECK(*all == std::vector<CtEntry>{tunnel, dns});
    // Read from the copy the transport kept: the datagram the kernel callback
    // saw lived on the sender's stack.
    uint8_t family = 0;
    AttrTable<CTA_MAX + 1> asked = request_attrs(t.sent.at(0), &family);
    CHECK(family == AF_INET);
    CHECK(test::messages(t.sent[0])[0]->nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
    // CTA_FILTER: the original tuple's protocol number, which CTA_TUPLE_ORIG gives.
    AttrTable<CTA_FILTER_MAX + 1> filter{};
    REQUIRE(parse_attrs(asked[CTA_FILTER].data, filter));
    CHECK(filter[CTA_FILTER_ORIG_FLAGS].u32() == 1u << 3);
    AttrTable<CTA_TUPLE_MAX + 1> tuple{};
    AttrTable<CTA_PROTO_MAX + 1> proto{};
    REQUIRE(parse_attrs(asked[CTA_TUPLE_ORIG].data, tuple));
    REQUIRE(parse_attrs(tuple[CTA_TUPLE_PROTO].data, proto));
    CHECK(proto[CTA_PROTO_NUM].u8() == IPPROTO_UDP);

    auto tunnels = dump_conntrack_udp(t, Family::v4, [](const CtEntry& e) { return e.orig.sport == 51820; });
    REQUIRE(tunnels);
    CHECK(*tunnels == std::vector<CtEntry>{tunnel});
}

TEST_CASE("conntrack: a dump error keeps the kernel's errno") {
    test::FakeTransport t(NETLINK_NETFILTER);
    t.kernel = [](Bytes d) { return test::Datagrams{test::ack(test::messages(d)[0]->nlmsg_seq, EOPNOTSUPP)}; };
    auto r = dump_conntrack_udp(t, Family::v6);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == EOPNOTSUPP);
    CHECK(r.error().where == "udp ipv6");
}

TEST_CASE("conntrack: a delete names the original tuple, zone and id; a missing entry is ENOENT") {
    test::FakeTransport t(NETLINK_NETFILTER);
    CtEntry e = entry("203.0.113.2", 51820, "192.0.2.1", 51820, "203.0.113.2", 51820);
    e.zone = 3;
    e.id = 42;
    int err = 0;
    t.kernel = [&](Bytes d) { return test::Datagrams{test::ack(test::messages(d)[0]->nlmsg_seq, err)}; };
    REQUIRE(delete_conntrack(t, e));
    const nlmsghdr* h = test::messages(t.sent[0])[0];
    CHECK(h->nlmsg_type == (NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE));
    CHECK((h->nlmsg_flags & NLM_F_ACK) != 0);
    uint8_t family = 0;
    auto a = request_attrs(t.sent[0], &family);
    CHECK(family == AF_INET);
    CHECK(a[CTA_ZONE].u16() == htons(3));
    CHECK(a[CTA_ID].u32() == htonl(42));
    CHECK_FALSE(a[CTA_TUPLE_REPLY].present);
    // The tuple as a dump would carry it: re-parsed into an entry with the same original.
    auto as_entry = test::build(0, 0, 1, [&](MsgWriter& w) {
        w.set_type(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW, 0);
        w.put_fixed<nfgenmsg>()->nfgen_family = AF_INET;
        w.put(CTA_TUPLE_ORIG, a[CTA_TUPLE_ORIG].data);
        w.put(CTA_TUPLE_REPLY, a[CTA_TUPLE_ORIG].data);
    });
    auto parsed = parse_conntrack(reinterpret_cast<const nlmsghdr*>(as_entry.data()));
    REQUIRE(parsed);
    CHECK(parsed->orig == e.orig);
    CHECK(parsed->l4proto == IPPROTO_UDP);

    err = ENOENT;
    Status gone = delete_conntrack(t, e);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == ENOENT);
    CHECK(gone.error().where == e.str());
}
