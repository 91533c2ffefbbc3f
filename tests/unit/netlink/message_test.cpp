// The bounded writer and the validating readers.
#include <doctest/doctest.h>

#include <linux/rtnetlink.h>

#include "netlink/message.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

struct Buffer {
    alignas(nlmsghdr) uint8_t bytes[4096];
};

}  // namespace

TEST_CASE("written attributes read back with their types and values") {
    Buffer b;
    MsgWriter w(b.bytes, sizeof b.bytes, RTM_NEWROUTE, NLM_F_CREATE);
    auto* rtm = w.put_fixed<rtmsg>();
    REQUIRE(rtm);
    rtm->rtm_family = AF_INET;
    CHECK(w.put_u32(RTA_TABLE, 7100));
    CHECK(w.put_str(RTA_MULTIPATH, "abc"));
    auto nest = w.begin_nest(RTA_METRICS);
    REQUIRE(nest);
    CHECK(w.put_u8(1, 7));
    CHECK(w.put_u64(2, 0x1122334455667788ull));
    CHECK(w.end_nest(*nest));
    CHECK_FALSE(w.full());
    CHECK(w.header()->nlmsg_len % 4 == 0);

    const nlmsghdr* h = w.header();
    AttrTable<RTA_MAX + 1> t{};
    REQUIRE(parse_attrs(attrs_after(h, sizeof(rtmsg)), t));
    CHECK(t[RTA_TABLE].u32() == 7100u);
    CHECK(t[RTA_MULTIPATH].str() == "abc");
    CHECK_FALSE(t[RTA_TABLE].u16());  // exact lengths only
    AttrTable<3> inner{};
    REQUIRE(parse_attrs(t[RTA_METRICS].data, inner));
    CHECK(inner[1].u8() == 7);
    CHECK(inner[2].u64() == 0x1122334455667788ull);
}

TEST_CASE("an append that does not fit changes nothing and leaves the writer full") {
    Buffer b;
    MsgWriter w(b.bytes, 40, RTM_NEWROUTE, 0);
    REQUIRE(w.put_fixed<rtmsg>());  // 16 + 12 = 28 bytes used
    CHECK(w.put_u32(RTA_TABLE, 1)); // 36
    uint32_t before = w.header()->nlmsg_len;
    CHECK_FALSE(w.put_u32(RTA_OIF, 2));  // needs 8, 4 left
    CHECK(w.full());
    CHECK(w.header()->nlmsg_len == before);
    CHECK_FALSE(w.put_flag(1));  // full is sticky, even for what would fit
    CHECK(w.header()->nlmsg_len == before);
    CHECK_FALSE(w.begin_nest(3));
}

TEST_CASE("a region too small for the header reports full without writing") {
    Buffer b;
    std::memset(b.bytes, 0xAA, sizeof b.bytes);
    MsgWriter w(b.bytes, 8, RTM_NEWROUTE, 0);
    CHECK(w.full());
    CHECK(b.bytes[0] == 0xAA);
    CHECK_FALSE(w.put_fixed<rtmsg>());
}

TEST_CASE("a nest longer than nla_len can express does not fit") {
    std::vector<uint8_t> big(200000);
    auto* buf = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(big.data() + 3) & ~uintptr_t(3));
    MsgWriter w(buf, 190000, RTM_NEWROUTE, 0);
    auto nest = w.begin_nest(1);
    REQUIRE(nest);
    std::vector<uint8_t> chunk(60000, 1);
    CHECK(w.put(2, chunk.data(), chunk.size()));
    CHECK(w.put(2, chunk.data(), chunk.size()));
    CHECK_FALSE(w.end_nest(*nest));
    CHECK(w.full());
    CHECK_FALSE(w.put(3, std::vector<uint8_t>(70000).data(), 70000));  // one attribute > 64 KiB
}

TEST_CASE("cancelling a nest removes it and everything in it") {
    Buffer b;
    MsgWriter w(b.bytes, sizeof b.bytes, 0, 0);
    w.put_u32(1, 1);
    uint32_t before = w.header()->nlmsg_len;
    auto nest = w.begin_nest(2);
    REQUIRE(nest);
    w.put_u32(3, 3);
    w.cancel_nest(*nest);
    CHECK(w.header()->nlmsg_len == before);
}

TEST_CASE("the reader skips attribute types it does not know") {
    Buffer b;
    MsgWriter w(b.bytes, sizeof b.bytes, 0, 0);
    w.put_u32(1, 11);
    w.put_u32(40, 99);  // newer kernel's attribute
    w.put_u32(2, 22);
    AttrTable<3> t{};
    REQUIRE(parse_attrs(attrs_after(w.header(), 0), t));
    CHECK(t[1].u32() == 11u);
    CHECK(t[2].u32() == 22u);
}

TEST_CASE("attribute lengths that run past their region are malformed") {
    SUBCASE("length past the end") {
        uint8_t raw[8] = {12, 0, 1, 0, 0, 0, 0, 0};  // nla_len 12 in 8 bytes
        AttrTable<3> t{};
        CHECK_FALSE(parse_attrs(Bytes(raw, sizeof raw), t));
    }
    SUBCASE("length below the header") {
        uint8_t raw[8] = {2, 0, 1, 0, 0, 0, 0, 0};
        AttrTable<3> t{};
        CHECK_FALSE(parse_attrs(Bytes(raw, sizeof raw), t));
    }
    SUBCASE("trailing bytes shorter than a header") {
        uint8_t raw[10] = {8, 0, 1, 0, 1, 0, 0, 0, 5, 0};
        AttrTable<3> t{};
        CHECK_FALSE(parse_attrs(Bytes(raw, sizeof raw), t));
    }
}

TEST_CASE("messages whose length runs past the datagram are malformed") {
    auto m = test::build(RTM_NEWROUTE, 0, 1, [](MsgWriter& w) { w.put_u32(1, 1); });
    m.resize(m.size() - 4);  // cut the last attribute short
    MsgReader r(Bytes(m.data(), m.size()));
    const nlmsghdr* h;
    CHECK_FALSE(r.next(h));
    CHECK(r.malformed());

    uint8_t tiny[8] = {};
    MsgReader r2(Bytes(tiny, sizeof tiny));
    CHECK_FALSE(r2.next(h));
    CHECK(r2.malformed());
}

TEST_CASE("a message length of 2^31 or more is malformed, not read past the datagram") {
    // mnl_nlmsg_ok() compares the length as an int: these passed it, the
    // first ran past the datagram and the second aligned to 0 and never
    // advanced (found by fuzz_netlink_dump).
    for (uint32_t len : {0x80000000u, 0xfffffffdu, 0xffffffffu}) {
        auto m = test::build(RTM_NEWROUTE, 0, 1, [](MsgWriter& w) { w.put_u32(1, 1); });
        std::memcpy(m.data(), &len, sizeof len);
        MsgReader r(Bytes(m.data(), m.size()));
        const nlmsghdr* h;
        CHECK_FALSE(r.next(h));
        CHECK(r.malformed());
    }
}

TEST_CASE("several messages in one datagram are read in order") {
    auto d = test::concat({test::ack(5), test::ack(6, 17), test::done(7)});
    auto msgs = test::messages(Bytes(d.data(), d.size()));
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[0]->nlmsg_type == NLMSG_ERROR);
    CHECK(msgs[2]->nlmsg_type == NLMSG_DONE);
}

TEST_CASE("the kernel's extack text and errno come out of an error message") {
    auto m = test::ack(42, EEXIST, "Route already exists");
    auto r = parse_error_message(reinterpret_cast<const nlmsghdr*>(m.data()));
    REQUIRE(r);
    CHECK(r->seq == 42);
    CHECK(r->error == EEXIST);
    CHECK(r->message == "Route already exists");
}

TEST_CASE("an uncapped error echoes the request before its extack") {
    auto request = test::build(RTM_NEWROUTE, NLM_F_REQUEST, 9, [](MsgWriter& w) {
        w.put_fixed<rtmsg>();
        w.put_u32(RTA_TABLE, 7100);
    });
    auto m = test::build(NLMSG_ERROR, NLM_F_ACK_TLVS, 9, [&](MsgWriter& w) {
        auto* e = w.put_fixed<int>();
        *e = -EINVAL;
        w.put_raw(request.data(), request.size());
        w.put_u32(NLMSGERR_ATTR_OFFS, 20);
        w.put_str(NLMSGERR_ATTR_MSG, "Invalid table");
    });
    auto r = parse_error_message(reinterpret_cast<const nlmsghdr*>(m.data()));
    REQUIRE(r);
    CHECK(r->seq == 9);
    CHECK(r->error == EINVAL);
    CHECK(r->message == "Invalid table");
    CHECK(r->bad_attr_offset == 20);
}

TEST_CASE("an error message too short for nlmsgerr is rejected") {
    auto m = test::build(NLMSG_ERROR, 0, 1, [](MsgWriter& w) { *w.put_fixed<int>() = -1; });
    CHECK_FALSE(parse_error_message(reinterpret_cast<const nlmsghdr*>(m.data())));
}
