// Every class of malformed vici input is an error value with a reason, never a
// crash or a read past the buffer (ASan builds of this test would show one).
#include <doctest/doctest.h>

#include <string>

#include "plugins/vici/packet.hpp"
#include "test_bytes.hpp"

using namespace avpn::vici;
using avpn::vici::test::B;
using avpn::vici::test::contains;

namespace {

// The reason decoding `bytes` failed; "" when it succeeded (a test failure).
std::string why(const std::vector<uint8_t>& bytes) {
    auto r = decode_message(bytes);
    return r.ok() ? std::string() : r.error().why;
}

}  // namespace

TEST_CASE("truncated elements are errors at every cut point") {
    // k = "vv", list l = [ "x" ], section s { }
    const std::vector<uint8_t> full = B({3, 1, 'k', 0, 2, 'v', 'v', 4, 1, 'l', 5, 0, 1, 'x', 6, 1, 1, 's', 2});
    REQUIRE(decode_message(full).ok());
    for (size_t cut = 1; cut < full.size(); ++cut) {
        CAPTURE(cut);
        std::vector<uint8_t> part(full.begin(), full.begin() + std::ptrdiff_t(cut));
        const bool boundary = cut == 7 || cut == 15;  // complete elements before an open list/section
        if (boundary) continue;
        CHECK_FALSE(decode_message(part).ok());
    }
    CHECK(contains(why(B({3, 5, 'k'})), "truncated key name"));
    CHECK(contains(why(B({3, 1, 'k', 0})), "truncated value"));
    CHECK(contains(why(B({3, 1, 'k', 0xff, 0xff, 'v'})), "truncated value"));
    CHECK(contains(why(B({1})), "truncated section name"));
    CHECK(contains(why(B({4, 1, 'l', 5, 0, 9, 'x'})), "truncated list item"));
}

TEST_CASE("unbalanced sections are errors") {
    CHECK(contains(why(B({2})), "section end without a section"));
    CHECK(contains(why(B({1, 1, 's'})), "not closed"));
    CHECK(contains(why(B({1, 1, 's', 1, 1, 't', 2})), "not closed"));
    CHECK(contains(why(B({1, 1, 's', 2, 2})), "section end without a section"));
}

TEST_CASE("list misuse is an error: items outside lists, nested lists, keys or sections in lists, unclosed") {
    CHECK(contains(why(B({5, 0, 1, 'x'})), "list item outside a list"));
    CHECK(contains(why(B({6})), "list end without a list"));
    CHECK(contains(why(B({4, 1, 'l', 4, 1, 'm', 6, 6})), "nested list"));
    CHECK(contains(why(B({4, 1, 'l', 3, 1, 'k', 0, 0, 6})), "inside list"));
    CHECK(contains(why(B({4, 1, 'l', 1, 1, 's', 2, 6})), "inside list"));
    CHECK(contains(why(B({4, 1, 'l', 2})), "inside list"));
    CHECK(contains(why(B({4, 1, 'l', 5, 0, 0})), "not closed"));
}

TEST_CASE("unknown element types, empty and duplicate names are errors") {
    for (int t : {0, 7, 8, 0x7f, 0xff}) {
        CAPTURE(t);
        CHECK(contains(why(B({t})), "unknown element type"));
    }
    CHECK(contains(why(B({3, 0, 0, 0})), "empty name"));
    CHECK(contains(why(B({3, 1, 'k', 0, 0, 3, 1, 'k', 0, 0})), "duplicate key"));
    CHECK(contains(why(B({3, 1, 'k', 0, 0, 4, 1, 'k', 6})), "duplicate key"));
    // the same name in different sections is fine
    CHECK(decode_message(B({3, 1, 'k', 0, 0, 1, 1, 's', 3, 1, 'k', 0, 0, 2})).ok());
}

TEST_CASE("nesting deeper than the limit is an error, at the limit it is fine") {
    auto nested = [](size_t depth) {
        std::vector<uint8_t> m;
        for (size_t i = 0; i < depth; ++i) m.insert(m.end(), {1, 1, 's'});
        for (size_t i = 0; i < depth; ++i) m.push_back(2);
        return m;
    };
    CHECK(decode_message(nested(kMaxDepth)).ok());
    CHECK(contains(why(nested(kMaxDepth + 1)), "deeper"));
    CHECK(contains(why(nested(100000)), "deeper"));
}

TEST_CASE("errors name the offset of the bad element") {
    auto r = decode_message(B({3, 1, 'k', 0, 0, 9}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().where == "offset 5");
}

TEST_CASE("malformed packets: unknown type, names, stray bytes, bad messages") {
    auto perr = [](const std::vector<uint8_t>& p) {
        auto r = decode_packet(p);
        return r.ok() ? std::string() : r.error().why;
    };
    CHECK(contains(perr({}), "empty packet"));
    CHECK(contains(perr(B({8})), "unknown packet type"));
    CHECK(contains(perr(B({0})), "truncated name"));
    CHECK(contains(perr(B({0, 5, 'a'})), "truncated name"));
    CHECK(contains(perr(B({7, 0})), "empty name"));
    CHECK(contains(perr(B({5, 1})), "unexpected bytes"));
    CHECK(contains(perr(B({3, 1, 'x', 3})), "unexpected bytes"));
    CHECK(contains(perr(B({1, 2})), "section end"));
    auto r = decode_packet(B({7, 2, 'e', 'v', 9}));
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().where, "EVENT 'ev'"));
    CHECK(decode_packet(B({1})).ok());  // an empty response
    CHECK(decode_packet(B({2})).ok());  // CMD_UNKNOWN
}

TEST_CASE("oversize frame lengths poison the frame reader; short headers wait") {
    FrameReader r;
    r.feed(B({0x00, 0x08}));
    auto n = r.next();
    REQUIRE(n.ok());
    CHECK_FALSE(*n);
    r.feed(B({0x00, 0x01}));  // 0x00080001: 512 KiB + 1
    auto bad = r.next();
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().why, "524289"));
    r.feed(B({0, 0, 0, 1, 1}));  // ignored once poisoned
    CHECK_FALSE(r.next().ok());
    r.reset();
    r.feed(B({0, 0, 0, 1, 1}));
    auto good = r.next();
    REQUIRE(good.ok());
    REQUIRE(*good);
    CHECK(**good == B({1}));
    FrameReader huge;
    huge.feed(B({0xff, 0xff, 0xff, 0xff}));
    CHECK_FALSE(huge.next().ok());
}

TEST_CASE("encoding refuses what the wire cannot carry") {
    Section long_name;
    long_name.add_value(std::string(256, 'n'), "v");
    CHECK_FALSE(encode_message(long_name).ok());
    Section long_value;
    long_value.add_value("k", std::string(65536, 'v'));
    CHECK_FALSE(encode_message(long_value).ok());
    Section long_item;
    long_item.add_list("l", {std::string(65536, 'v')});
    CHECK_FALSE(encode_message(long_item).ok());
    Section dup;
    dup.add_value("k", "1");
    dup.add_value("k", "2");
    CHECK_FALSE(encode_message(dup).ok());
    Section empty_name;
    empty_name.add_value("", "v");
    CHECK_FALSE(encode_message(empty_name).ok());
    CHECK_FALSE(encode_packet(Packet{PacketType::CmdRequest, "", {}}).ok());
    CHECK_FALSE(encode_packet(Packet{PacketType::Event, std::string(256, 'e'), {}}).ok());
}
