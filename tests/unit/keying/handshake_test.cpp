#include <doctest/doctest.h>

#include "tests/unit/keying/pair.hpp"

using namespace avpn;
using namespace avpn::keying;
using namespace avpn::keying::test;

TEST_CASE("a handshake gives both sides the same keys, SPIs and epochs, crossed") {
    auto p = Pair::make();
    auto r = p.consume(p.initiation());
    REQUIRE_MESSAGE(r, r.error().str());
    REQUIRE(r->session);
    REQUIRE(r->reply.size() == kResponseLen);
    auto s = p.initiator.finish(r->reply);
    REQUIRE_MESSAGE(s, s.error().str());
    const Session& i = *s;
    const Session& re = *r->session;
    CHECK(i.initiator);
    CHECK_FALSE(re.initiator);
    CHECK(re.peer_static == *crypto::public_key(p.in.initiator_static));
    CHECK(i.peer_static == *crypto::public_key(p.in.responder_static));
    CHECK(i.send_key == re.receive_key);
    CHECK(i.receive_key == re.send_key);
    CHECK_FALSE(i.send_key == i.receive_key);
    CHECK(i.local_index == re.remote_index);
    CHECK(i.remote_index == re.local_index);
    CHECK(i.inbound_spi == p.in.initiator.inbound_spi);
    CHECK(i.outbound_spi == re.inbound_spi);
    CHECK(re.outbound_spi == i.inbound_spi);
    CHECK(i.peer_epoch == re.local_epoch);
    CHECK(re.peer_epoch == i.local_epoch);
    CHECK(i.esp_outbound_key.get() == re.esp_inbound_key.get());
    CHECK(i.esp_inbound_key.get() == re.esp_outbound_key.get());
    CHECK(i.esp_outbound_key.size() == 20);
    CHECK(i.esp_outbound_key.get() != i.esp_inbound_key.get());
    CHECK_FALSE(p.initiator.pending());
    CHECK_FALSE(p.initiator.finish(r->reply));  // the handshake state is used once
}

TEST_CASE("two handshakes with fresh ephemerals give unrelated keys (forward secrecy's premise)") {
    auto p = Pair::make();
    auto a = p.consume(p.initiation());
    auto sa = p.initiator.finish(a->reply);
    auto b = p.consume(p.initiation());
    REQUIRE(b);
    auto sb = p.initiator.finish(b->reply);
    REQUIRE(sa);
    REQUIRE(sb);
    CHECK_FALSE(sa->send_key == sb->send_key);
    CHECK(sa->esp_outbound_key.get() != sb->esp_outbound_key.get());
}

TEST_CASE("every flipped byte of an initiation before mac2 is rejected") {
    auto p = Pair::make();
    const Bytes good = p.initiation();
    for (size_t i = 0; i < kInitiationLen - 16; ++i) {
        Bytes bad = good;
        bad[i] ^= 0x01;
        CHECK_MESSAGE(!p.consume(bad), "byte ", i);
    }
    CHECK(p.consume(good));  // nothing above spent the peer's timestamp
}

TEST_CASE("a flipped Noise byte with mac1 recomputed still fails the handshake") {
    // mac1 is keyed with a public key: anyone can recompute it. The Noise
    // part itself must then refuse the change (AEAD, or a DH that differs).
    auto p = Pair::make();
    const Bytes good = p.initiation();
    const Key32 key = *mac1_key(p.responder.static_public());
    for (size_t i = 12; i < 12 + noise_msg1_len(kInitiationPayloadLen); ++i) {
        Bytes noise(good.begin() + 12, good.end() - 32);
        noise[i - 12] ^= 0x80;
        auto bad = encode_initiation(0x11223344, noise, key, std::nullopt);
        REQUIRE(bad);
        p.now += std::chrono::seconds(1);  // keeps the rate limit out of it
        CHECK_MESSAGE(!p.consume(*bad), "byte ", i);
    }
}

TEST_CASE("every flipped byte of a response is rejected, also with mac1 recomputed") {
    auto p = Pair::make();
    const Key32 initiator_mac1 = *mac1_key(*crypto::public_key(p.in.initiator_static));
    for (size_t i = 0; i < kResponseLen; ++i) {
        p.now += std::chrono::seconds(1);
        auto r = p.consume(p.initiation());
        REQUIRE(r);
        Bytes bad = r->reply;
        bad[i] ^= 0x01;
        CHECK_MESSAGE(!p.initiator.finish(bad), "byte ", i);
        if (i < 16 || i >= kResponseLen - 32) continue;
        // Same flip in the Noise part, mac1 made valid again: AEAD refuses.
        p.now += std::chrono::seconds(1);
        r = p.consume(p.initiation());
        REQUIRE(r);
        Bytes noise(r->reply.begin() + 16, r->reply.end() - 32);
        noise[i - 16] ^= 0x01;
        auto forged = encode_response(0x55667788, 0x11223344, noise, initiator_mac1, std::nullopt);
        REQUIRE(forged);
        CHECK_MESSAGE(!p.initiator.finish(*forged), "byte ", i, " with mac1 recomputed");
    }
}

TEST_CASE("another group's handshake does not complete: the prologue binds the group") {
    auto p = Pair::make();
    VectorInputs other;
    other.group = "acme2";
    auto q = Pair::make({}, other);
    auto r = q.consume(p.initiation());
    CHECK_FALSE(r);
}

TEST_CASE("a response goes only to the pending initiation") {
    auto p = Pair::make();
    auto r = p.consume(p.initiation());
    REQUIRE(r);
    auto q = Pair::make();  // same keys, no pending initiation
    CHECK_FALSE(q.initiator.finish(r->reply));
    p.initiation();  // a newer start forgets the older attempt
    CHECK_FALSE(p.initiator.finish(r->reply));
}

TEST_CASE("key confirm and keepalive: authenticated, for this session, counters increasing") {
    auto p = Pair::make();
    auto r = p.consume(p.initiation());
    auto s = p.initiator.finish(r->reply);
    REQUIRE(s);
    auto c0 = make_confirm(*s);
    auto c1 = make_confirm(*s);
    REQUIRE(c0);
    REQUIRE(c1);
    CHECK(c0->size() == kKeyConfirmLen);
    for (size_t i = 0; i < c0->size(); ++i) {
        Bytes bad = *c0;
        bad[i] ^= 0x01;
        CHECK_MESSAGE(!check_confirm(*r->session, bad), "byte ", i);
    }
    CHECK(*check_confirm(*r->session, *c0) == 0);
    CHECK_FALSE(check_confirm(*r->session, *c0));  // replayed
    CHECK(*check_confirm(*r->session, *c1) == 1);
    CHECK_FALSE(check_confirm(*r->session, *c0));  // older
    CHECK_FALSE(check_confirm(*s, *c1));           // our own message: another index and key
    // The responder's keepalive, under its own key and counter.
    auto k0 = make_confirm(*r->session);
    REQUIRE(k0);
    CHECK(*check_confirm(*s, *k0) == 0);
    auto other = p.consume(p.initiation());  // a newer session's keys
    auto c2 = make_confirm(*s);
    CHECK_FALSE(check_confirm(*other->session, *c2));
}

TEST_CASE("ESP keys: Noise-HKDF of the transport key and SPI, any length 1..64") {
    Key32 k = key_from(1);
    auto a = esp_key(k, 0x40000001, 20);
    auto b = esp_key(k, 0x40000002, 20);
    auto l = esp_key(k, 0x40000001, 64);
    REQUIRE(a);
    REQUIRE(l);
    CHECK(a->get() != b->get());
    CHECK(Bytes(l->get().begin(), l->get().begin() + 20) == a->get());
    CHECK_FALSE(esp_key(k, 1, 0));
    CHECK_FALSE(esp_key(k, 1, 65));
    auto p = Pair::make({.esp_key_len = 36});  // rfc4106 with a 256-bit key
    auto r = p.consume(p.initiation());
    REQUIRE(r);
    CHECK(r->session->esp_outbound_key.size() == 36);
}
