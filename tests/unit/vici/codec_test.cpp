// Round trips of the vici codec: every element type, every packet type, the
// framing split at every byte, and the encoding example of the protocol spec.
#include <doctest/doctest.h>

#include "plugins/vici/builder.hpp"
#include "plugins/vici/packet.hpp"
#include "test_bytes.hpp"
#include "plugins/vici/text.hpp"

using namespace avpn::vici;
using avpn::vici::test::B;

namespace {

void append_str(std::vector<uint8_t>& v, const char* s) {
    for (; *s; ++s) v.push_back(uint8_t(*s));
}

// The spec's example: key1 = value1, section1 { sub-section { key2 = value2 } list1 = [item1, item2] }
std::vector<uint8_t> spec_example() {
    std::vector<uint8_t> m = B({3, 4});
    append_str(m, "key1");
    m.insert(m.end(), {0, 6});
    append_str(m, "value1");
    m.insert(m.end(), {1, 8});
    append_str(m, "section1");
    m.insert(m.end(), {1, 11});
    append_str(m, "sub-section");
    m.insert(m.end(), {3, 4});
    append_str(m, "key2");
    m.insert(m.end(), {0, 6});
    append_str(m, "value2");
    m.push_back(2);
    m.insert(m.end(), {4, 5});
    append_str(m, "list1");
    m.insert(m.end(), {5, 0, 5});
    append_str(m, "item1");
    m.insert(m.end(), {5, 0, 5});
    append_str(m, "item2");
    m.insert(m.end(), {6, 2});
    return m;
}

Section spec_tree() {
    Builder b;
    b.add("key1", "value1")
        .begin_section("section1")
        .begin_section("sub-section")
        .add("key2", "value2")
        .end_section()
        .add_list("list1", {"item1", "item2"})
        .end_section();
    auto r = b.finish();
    REQUIRE(r.ok());
    return *r;
}

Section round_trip(const Section& s) {
    auto enc = encode_message(s);
    REQUIRE(enc.ok());
    CHECK(enc->size() == encoded_size(s));
    auto dec = decode_message(*enc);
    REQUIRE_MESSAGE(dec.ok(), dec.error().str());
    return *dec;
}

}  // namespace

TEST_CASE("the spec's encoding example decodes to the expected tree and re-encodes identically") {
    auto dec = decode_message(spec_example());
    REQUIRE_MESSAGE(dec.ok(), dec.error().str());
    CHECK(*dec == spec_tree());
    CHECK(dec->value_or("key1") == "value1");
    const Section* s1 = dec->section("section1");
    REQUIRE(s1);
    REQUIRE(s1->section("sub-section"));
    CHECK(s1->section("sub-section")->value_or("key2") == "value2");
    REQUIRE(s1->list("list1"));
    CHECK(*s1->list("list1") == std::vector<std::string>{"item1", "item2"});
    auto enc = encode_message(*dec);
    REQUIRE(enc.ok());
    CHECK(*enc == spec_example());
}

TEST_CASE("every element type round-trips, including empty and binary values") {
    Builder b;
    std::string binary("\0\x01\xff\n", 4);
    b.add("empty", "")
        .add("binary", binary)
        .add("number", uint64_t(18446744073709551615ull))
        .add_list("empty-list", {})
        .add_list("items", {"a", "", binary})
        .begin_section("empty-section")
        .end_section()
        .begin_section("outer")
        .begin_section("inner")
        .add("k", "v")
        .end_section()
        .end_section();
    auto msg = b.finish();
    REQUIRE(msg.ok());
    Section back = round_trip(*msg);
    CHECK(back == *msg);
    CHECK(*back.value("binary") == binary);
    CHECK(*back.value("number") == "18446744073709551615");
    CHECK(back.list("empty-list")->empty());
    CHECK(back.list("items")->size() == 3);
    CHECK(back.section("empty-section")->empty());
    CHECK(back.section("outer")->section("inner")->value_or("k") == "v");
}

TEST_CASE("values at the wire limits round-trip; look-ups are kind-checked") {
    Section s;
    s.add_value(std::string(255, 'n'), std::string(65535, 'v'));
    s.add_list("l", {std::string(65535, 'i')});
    Section back = round_trip(s);
    CHECK(back == s);
    CHECK(back.value("l") == nullptr);  // a list is not a value
    CHECK(back.list(std::string(255, 'n')) == nullptr);
    CHECK(back.section("missing") == nullptr);
    CHECK(back.value_or("missing", "dflt") == "dflt");
}

TEST_CASE("the empty message encodes to nothing and decodes from nothing") {
    auto enc = encode_message(Section{});
    REQUIRE(enc.ok());
    CHECK(enc->empty());
    auto dec = decode_message({});
    REQUIRE(dec.ok());
    CHECK(dec->empty());
}

TEST_CASE("every packet type round-trips through a frame") {
    Section msg = spec_tree();
    struct Case {
        PacketType type;
        std::string name;
        bool message;
    };
    const Case cases[] = {
        {PacketType::CmdRequest, "list-sas", true}, {PacketType::CmdResponse, "", true},
        {PacketType::CmdUnknown, "", false},        {PacketType::EventRegister, "ike-updown", false},
        {PacketType::EventUnregister, "ike-updown", false}, {PacketType::EventConfirm, "", false},
        {PacketType::EventUnknown, "", false},      {PacketType::Event, "list-sa", true},
    };
    for (const Case& c : cases) {
        CAPTURE(to_string(c.type));
        Packet p{c.type, c.name, c.message ? msg : Section{}};
        auto frame = encode_packet(p);
        REQUIRE(frame.ok());
        const size_t len = size_t((*frame)[0]) << 24 | size_t((*frame)[1]) << 16 | size_t((*frame)[2]) << 8 | (*frame)[3];
        CHECK(len == frame->size() - 4);
        CHECK((*frame)[4] == uint8_t(c.type));
        auto back = decode_packet(std::span(*frame).subspan(4));
        REQUIRE_MESSAGE(back.ok(), back.error().str());
        CHECK(*back == p);
    }
}

TEST_CASE("the frame reader reassembles frames split at every byte boundary") {
    std::vector<uint8_t> stream;
    std::vector<Packet> sent;
    for (int i = 0; i < 3; ++i) {
        Packet p{PacketType::Event, "list-sa", spec_tree()};
        p.message.add_value("n", std::to_string(i));
        sent.push_back(p);
        auto f = encode_packet(p);
        REQUIRE(f.ok());
        stream.insert(stream.end(), f->begin(), f->end());
    }
    for (size_t chunk = 1; chunk <= stream.size(); chunk += 7) {
        FrameReader r;
        std::vector<Packet> got;
        for (size_t off = 0; off < stream.size(); off += chunk) {
            r.feed(std::span(stream).subspan(off, std::min(chunk, stream.size() - off)));
            for (;;) {
                auto next = r.next();
                REQUIRE(next.ok());
                if (!*next) break;
                auto p = decode_packet(**next);
                REQUIRE(p.ok());
                got.push_back(*p);
            }
        }
        CHECK(got == sent);
        CHECK(r.buffered() == 0);
    }
}

TEST_CASE("a frame of exactly 512 KiB is accepted, one byte more is refused") {
    Packet p{PacketType::CmdResponse, "", {}};
    // type(1) + key element(1 + 1 + 1 + 2) + value: fill to exactly kMaxSegment.
    p.message.add_value("k", std::string(65535, 'x'));
    for (int i = 0; i < 6; ++i) p.message.add_value("k" + std::to_string(i), std::string(65535, 'y'));
    const size_t used = 1 + encoded_size(p.message);
    REQUIRE(used < kMaxSegment);
    p.message.add_value("pad", std::string(kMaxSegment - used - 1 - 1 - 3 - 2, 'z'));
    auto ok = encode_packet(p);
    REQUIRE(ok.ok());
    CHECK(ok->size() == kMaxSegment + 4);
    FrameReader r;
    r.feed(*ok);
    auto next = r.next();
    REQUIRE(next.ok());
    REQUIRE(*next);
    CHECK(decode_packet(**next).ok());

    p.message.add_value("one-more", "");
    CHECK_FALSE(encode_packet(p).ok());
}

TEST_CASE("the text dump is readable and quotes what is not a plain token") {
    Section s = spec_tree();
    s.add_value("secretless", "has space");
    s.add_value("bin", std::string("a\0\"", 3));
    CHECK(to_text(s) ==
          "key1 = value1\n"
          "section1 {\n"
          "  sub-section {\n"
          "    key2 = value2\n"
          "  }\n"
          "  list1 = [ item1, item2 ]\n"
          "}\n"
          "secretless = \"has space\"\n"
          "bin = \"a\\x00\\\"\"\n");
}
