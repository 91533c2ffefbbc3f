#include <doctest/doctest.h>

#include "tests/unit/keying/pair.hpp"

using namespace avpn;
using namespace avpn::keying;
using namespace avpn::keying::test;

namespace {
Bytes header(uint8_t type, size_t total) {
    Bytes b;
    put_header(b, type);
    b.resize(total, 0);
    return b;
}
}  // namespace

TEST_CASE("the header: marker, type in a defined range, magic") {
    CHECK(*peek_type(header(0x01, 8)) == 0x01);
    CHECK(*peek_type(header(0x10, 8)) == 0x10);  // issue 14's range passes to its dispatcher
    CHECK(*peek_type(header(0x2f, 40)) == 0x2f);
    CHECK_FALSE(peek_type(header(0x00, 8)));
    CHECK_FALSE(peek_type(header(0x30, 8)));
    CHECK_FALSE(peek_type(header(0xff, 8)));
    CHECK_FALSE(peek_type(Bytes{0, 0, 0, 0, 1, 'a', 'v'}));  // 7 bytes
    CHECK_FALSE(peek_type(Bytes{0xff}));                     // a NAT keepalive
    for (size_t i : {0, 1, 2, 3, 5, 6, 7}) {
        Bytes b = header(0x01, 8);
        b[i] ^= 0x20;
        CHECK_MESSAGE(!peek_type(b), "byte ", i);
    }
}

TEST_CASE("parsers refuse every length but their own, and other types") {
    struct Case {
        MessageType type;
        size_t len;
    };
    for (auto c : {Case{MessageType::initiation, kInitiationLen}, Case{MessageType::response, kResponseLen},
                   Case{MessageType::cookie_reply, kCookieReplyLen}, Case{MessageType::key_confirm, kKeyConfirmLen}}) {
        for (size_t len = 0; len < 200; ++len) {
            Bytes b = header(uint8_t(c.type), std::max<size_t>(len, 8));
            b.resize(len);
            const bool right = len == c.len;
            CHECK(bool(parse_initiation(b)) == (right && c.type == MessageType::initiation));
            CHECK(bool(parse_response(b)) == (right && c.type == MessageType::response));
            CHECK(bool(parse_cookie_reply(b)) == (right && c.type == MessageType::cookie_reply));
            CHECK(bool(parse_key_confirm(b)) == (right && c.type == MessageType::key_confirm));
        }
    }
    CHECK(kInitiationLen == 160);
    CHECK(kResponseLen == 104);
    CHECK(kCookieReplyLen == 56);
    CHECK(kKeyConfirmLen == 36);
}

TEST_CASE("parsed fields sit at their documented offsets") {
    Bytes r = header(uint8_t(MessageType::response), kResponseLen);
    r[8] = 0x01, r[11] = 0x02, r[12] = 0x03, r[15] = 0x04, r[16] = 0xee;
    auto p = parse_response(r);
    REQUIRE(p);
    CHECK(p->sender == 0x01000002);
    CHECK(p->receiver == 0x03000004);
    CHECK(p->noise.size() == 56);
    CHECK(p->noise[0] == 0xee);
    Bytes c = header(uint8_t(MessageType::key_confirm), kKeyConfirmLen);
    c[19] = 7, c[20] = 0xaa;
    auto k = parse_key_confirm(c);
    REQUIRE(k);
    CHECK(k->counter == 7);
    CHECK(k->tag[0] == 0xaa);
}

TEST_CASE("payloads: fixed lengths, SPI 0 refused") {
    InitiationPayload ip{tai64n_from_unix(5, 6), 0x40000001, 3};
    auto back = decode_initiation_payload(encode(ip));
    REQUIRE(back);
    CHECK(back->timestamp == ip.timestamp);
    CHECK(back->inbound_spi == 0x40000001);
    CHECK(back->epoch == 3);
    CHECK_FALSE(decode_initiation_payload(Bytes(19)));
    CHECK_FALSE(decode_initiation_payload(Bytes(20)));  // SPI 0
    auto rp = decode_response_payload(encode(ResponsePayload{0x40000002, 9}));
    REQUIRE(rp);
    CHECK(rp->epoch == 9);
    CHECK_FALSE(decode_response_payload(Bytes(8)));
    CHECK_FALSE(decode_response_payload(Bytes(9)));
}

TEST_CASE("TAI64N orders as bytes and is rounded to 2^24 ns") {
    CHECK(tai64n_from_unix(1, 0) < tai64n_from_unix(1, 1));
    CHECK(tai64n_from_unix(1, 999999999) < tai64n_from_unix(2, 0));
    CHECK(tai64n_from_unix(0, 0)[0] == 0x40);
    auto now = tai64n_now();
    CHECK((now[9] == 0 && now[10] == 0 && now[11] == 0));  // low 24 bits of the nanoseconds
    CHECK(tai64n_from_unix(1764892800, 0) < now);
}

TEST_CASE("garbage to every entry point is an error, never a crash") {
    auto p = Pair::make();
    p.initiation();
    uint32_t x = 12345;
    for (size_t len = 0; len < 300; len += 7) {
        for (uint8_t type = 0; type < 6; ++type) {
            Bytes b = header(type, std::max<size_t>(len, 8));
            b.resize(len);
            for (size_t i = 8; i < b.size(); ++i) b[i] = uint8_t((x = x * 1103515245 + 12345) >> 16);
            CHECK_FALSE(p.consume(b));
            CHECK_FALSE(p.initiator.take_cookie(b, p.now));
            CHECK_FALSE(p.initiator.finish(b));
            Session s;
            CHECK_FALSE(check_confirm(s, b));
        }
    }
}
