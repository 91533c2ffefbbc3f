#include <doctest/doctest.h>

#include <algorithm>

#include "plugins/registry/session.hpp"

using namespace avpn;
using namespace avpn::registry;

namespace {
Endpoint ep(const char* t) { return *Endpoint::parse(t); }
Key32 filled(uint8_t b) {
    Key32 k;
    k.fill(b);
    return k;
}
}  // namespace

TEST_CASE("registry types sit in the range kept for them and never collide with keying's") {
    for (auto t : {MessageType::initiation, MessageType::response, MessageType::cookie_reply, MessageType::transport}) {
        CHECK(uint8_t(t) >= keying::kDiscoveryTypeFirst);
        CHECK(uint8_t(t) <= keying::kDiscoveryTypeLast);
    }
    CHECK(kInitiationLen == 216);
    CHECK(kResponseLen == 96);
    CHECK(kCookieReplyLen == 56);
    CHECK(kTransportOverhead == 36);
    // A keying initiation is not a registry initiation, even with the same length's rules.
    Bytes keying_init(keying::kInitiationLen, 0);
    keying::put_header(keying_init, uint8_t(keying::MessageType::initiation));
    CHECK_FALSE(parse_initiation(keying_init));
}

TEST_CASE("the initiation payload carries the group name, padded, and refuses bad padding and lengths") {
    InitiationPayload p{keying::tai64n_from_unix(1764892800, 0), "corp"};
    auto b = encode(p);
    REQUIRE(b);
    CHECK(b->size() == kInitiationPayloadLen);
    auto back = decode_initiation_payload(*b);
    REQUIRE(back);
    CHECK(back->group == "corp");
    CHECK(back->timestamp == p.timestamp);
    Bytes bad = *b;
    bad[40] = 1;  // in the padding
    CHECK_FALSE(decode_initiation_payload(bad));
    bad = *b;
    bad[12] = 0;
    CHECK_FALSE(decode_initiation_payload(bad));
    bad[12] = 64;
    CHECK_FALSE(decode_initiation_payload(bad));
    CHECK_FALSE(encode(InitiationPayload{{}, std::string(64, 'a')}));
    CHECK_FALSE(encode(InitiationPayload{{}, ""}));
    CHECK(encode(InitiationPayload{{}, std::string(63, 'a')}));
}

TEST_CASE("bodies round-trip") {
    Register r{{ep("192.168.1.10:51820"), ep("[fd00::1]:51820")}};
    auto r2 = decode_register(encode(r));
    REQUIRE(r2);
    CHECK(r2->local == r.local);

    Registered g{ep("203.0.113.7:40000"), 60};
    auto g2 = decode_registered(encode(g));
    REQUIRE(g2);
    CHECK(g2->observed == g.observed);
    CHECK(g2->hold_seconds == 60);

    Query q{{filled(1), filled(2)}};
    auto q2 = decode_query(encode(q));
    REQUIRE(q2);
    CHECK(q2->members == q.members);

    Contacts c{{ContactEntry{filled(3), ContactState::registered, ep("198.51.100.1:1"), ep("10.0.0.1:2")},
                ContactEntry{filled(4), ContactState::not_registered, std::nullopt, std::nullopt},
                ContactEntry{filled(5), ContactState::unknown, std::nullopt, std::nullopt}}};
    Bytes cb = encode(c);
    CHECK(cb.size() == 2 + 3 * kContactEntryLen);
    auto c2 = decode_contacts(cb);
    REQUIRE(c2);
    REQUIRE(c2->entries.size() == 3);
    CHECK(c2->entries[0].observed == c.entries[0].observed);
    CHECK(c2->entries[0].local == c.entries[0].local);
    CHECK(c2->entries[1].state == ContactState::not_registered);
    CHECK_FALSE(c2->entries[2].observed);
    // Filtering rides with a registration and a registered entry.
    Register rf{{}, Filtering::permissive};
    auto rf2 = decode_register(encode(rf));
    REQUIRE(rf2);
    CHECK(rf2->filtering == Filtering::permissive);
    ContactEntry strict = c.entries[0];
    strict.filtering = Filtering::strict;
    auto cf = decode_contacts(encode(Contacts{{strict}}));
    REQUIRE(cf);
    CHECK(cf->entries[0].filtering == Filtering::strict);
    auto fa = decode_filter_answer(encode(FilterAnswer{ep("192.0.2.10:9351")}));
    REQUIRE(fa);
    CHECK(fa->alternate == ep("192.0.2.10:9351"));
    auto none = decode_filter_answer(encode(FilterAnswer{}));
    REQUIRE(none);
    CHECK_FALSE(none->alternate);
    auto fp = decode_filter_probe(encode(FilterProbe{ep("203.0.113.7:40000")}));
    REQUIRE(fp);
    CHECK(fp->to == ep("203.0.113.7:40000"));
    CHECK(peek_kind(encode_filter_test()).value() == BodyKind::filter_test);
    // The largest contacts message fits the body limit.
    Contacts full;
    full.entries.assign(kMaxQueryKeys, c.entries[0]);
    CHECK(encode(full).size() <= kMaxBodyLen);
}

TEST_CASE("every truncation and extension of a body is refused") {
    const std::vector<Bytes> bodies = {
        encode(Register{{ep("192.168.1.10:51820")}}), encode(Registered{ep("203.0.113.7:40000"), 60}),
        encode(Query{{filled(1)}}),
        encode(Contacts{{ContactEntry{filled(3), ContactState::registered, ep("198.51.100.1:1"), std::nullopt}}}),
        encode(FilterAnswer{ep("192.0.2.10:9351")}), encode(FilterProbe{ep("203.0.113.7:40000")})};
    for (const Bytes& b : bodies) {
        for (size_t n = 0; n < b.size(); ++n) {
            ByteView cut(b.data(), n);
            CHECK_FALSE(decode_register(cut));
            CHECK_FALSE(decode_registered(cut));
            CHECK_FALSE(decode_query(cut));
            CHECK_FALSE(decode_contacts(cut));
            CHECK_FALSE(decode_filter_answer(cut));
            CHECK_FALSE(decode_filter_probe(cut));
        }
        Bytes longer = b;
        longer.push_back(0);
        CHECK_FALSE(decode_register(longer));
        CHECK_FALSE(decode_registered(longer));
        CHECK_FALSE(decode_query(longer));
        CHECK_FALSE(decode_contacts(longer));
        CHECK_FALSE(decode_filter_answer(longer));
        CHECK_FALSE(decode_filter_probe(longer));
    }
}

TEST_CASE("endpoint fields refuse port 0, unknown families and IPv4 with trailing bytes") {
    Bytes b = encode(Registered{ep("203.0.113.7:40000"), 60});
    Bytes bad = b;
    bad[1] = 5;
    CHECK_FALSE(decode_registered(bad));
    bad = b;
    bad[18] = 0, bad[19] = 0;  // port
    CHECK_FALSE(decode_registered(bad));
    bad = b;
    bad[2 + 5] = 1;  // byte 6 of a v4 address
    CHECK_FALSE(decode_registered(bad));
    // A contacts entry that says registered without a contact, or the reverse.
    Bytes c = encode(Contacts{{ContactEntry{filled(3), ContactState::registered, ep("198.51.100.1:1"), std::nullopt}}});
    c[2 + 32] = uint8_t(ContactState::not_registered);
    CHECK_FALSE(decode_contacts(c));
    c[2 + 32] = 3;
    CHECK_FALSE(decode_contacts(c));
    // Filtering: known values only, and only for a registered entry.
    c[2 + 32] = uint8_t(ContactState::registered);
    c[2 + 33] = 3;
    CHECK_FALSE(decode_contacts(c));
    Bytes nr = encode(Contacts{{ContactEntry{filled(4), ContactState::not_registered, std::nullopt, std::nullopt}}});
    nr[2 + 33] = uint8_t(Filtering::permissive);
    CHECK_FALSE(decode_contacts(nr));
    Bytes r = encode(Register{{}, Filtering::strict});
    r.back() = 3;
    CHECK_FALSE(decode_register(r));
}

TEST_CASE("a transport message opens once; a replay, an old counter and a flipped byte do not") {
    TransportSession a, b;
    a.local_index = 1, a.remote_index = 2;
    b.local_index = 2, b.remote_index = 1;
    a.send_key = b.receive_key = keying::Secret32(filled(7));
    a.receive_key = b.send_key = keying::Secret32(filled(8));
    const Bytes body = encode(Query{{filled(1)}});
    auto m0 = a.seal(body);
    REQUIRE(m0);
    auto t = parse_transport(*m0);
    REQUIRE(t);
    auto opened = b.open(*m0, *t);
    REQUIRE(opened);
    CHECK(*opened == body);
    auto again = b.open(*m0, *t);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == kReplayed);
    for (size_t i = 0; i < m0->size(); ++i) {
        Bytes bad = *m0;
        bad[i] ^= 0x40;
        auto bt = parse_transport(bad);
        if (!bt) continue;  // header bytes: refused by the parser
        auto r = b.open(bad, *bt);
        CHECK_MESSAGE(!r, "byte ", i);
    }
    // Out of order within the window is fine once; 256 behind the highest is too old.
    std::vector<Bytes> msgs;
    for (int i = 0; i < 300; ++i) msgs.push_back(*a.seal(body));
    auto open = [&](const Bytes& m) { return b.open(m, *parse_transport(m)); };
    CHECK(open(msgs[299]));
    CHECK(open(msgs[100]));
    CHECK_FALSE(open(msgs[100]));
    auto old = open(msgs[43]);  // counter 44 is 256 below 300
    REQUIRE_FALSE(old);
    CHECK(old.error().code == kReplayed);
    // A forged message with a far-ahead counter does not move the window.
    Bytes forged = msgs[298];
    forged[12] = 0x0f;
    CHECK_FALSE(open(forged));
    CHECK(open(msgs[298]));
}

TEST_CASE("transport framing: shorter than the overhead plus one byte, or longer than the limit, is refused") {
    TransportSession a;
    a.send_key = keying::Secret32(filled(7));
    auto m = a.seal(Bytes{1});
    REQUIRE(m);
    CHECK(m->size() == kTransportOverhead + 1);
    for (size_t n = 0; n < m->size(); ++n) CHECK_FALSE(parse_transport(ByteView(m->data(), n)));
    Bytes big(kMaxTransportLen + 1, 0);
    std::copy_n(m->begin(), 8, big.begin());
    CHECK_FALSE(parse_transport(big));
    CHECK_FALSE(a.seal(Bytes(kMaxBodyLen + 1, 1)));
    CHECK_FALSE(a.seal(Bytes{}));
}
