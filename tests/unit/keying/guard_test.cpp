#include <doctest/doctest.h>

#include "tests/unit/keying/pair.hpp"

using namespace avpn;
using namespace avpn::keying;
using namespace avpn::keying::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("a replayed initiation is rejected; so is an older or equal timestamp") {
    auto p = Pair::make();
    const Bytes first = p.initiation();
    REQUIRE(p.consume(first));
    p.now += seconds(1);
    auto again = p.consume(first);
    REQUIRE_FALSE(again);
    CHECK(again.error().why.find("replayed or stale") != std::string::npos);

    const Bytes newer = p.initiation();
    auto older = p.initiator.start(p.in.initiator, tai64n_from_unix(p.clock_seconds - 1, 999999999), p.now);
    auto equal = p.initiator.start(p.in.initiator, tai64n_from_unix(p.clock_seconds, 0), p.now);
    CHECK(p.consume(newer));
    CHECK_FALSE(p.consume(*older));
    CHECK_FALSE(p.consume(*equal));
    CHECK(p.consume(p.initiation()));
}

TEST_CASE("a rejected initiation does not move the peer's timestamp") {
    auto p = Pair::make();
    Bytes late = p.initiation();                         // t+1
    late[100] ^= 1;                                      // then broken
    CHECK_FALSE(p.consume(late));
    p.clock_seconds -= 1;
    CHECK(p.consume(p.initiation()));                    // t+1 again: still fresh
}

TEST_CASE("an initiator with the wrong responder key fails at mac1, before any DH") {
    auto p = Pair::make();
    auto wrong = Initiator::create({p.in.initiator_static, *crypto::public_key(key_from(0x99)), p.in.group});
    REQUIRE(wrong);
    auto m = wrong->start(p.in.initiator, tai64n_from_unix(1764892801, 0), p.now);
    REQUIRE(m);
    auto r = p.consume(*m);
    REQUIRE_FALSE(r);
    CHECK(r.error().why.find("mac1") != std::string::npos);
}

TEST_CASE("a static key that is not one of the group's peers gets nothing") {
    VectorInputs in;
    auto r = Responder::create({in.responder_static, in.group}, [](const Key32&) -> Result<LocalChoice> {
        return Error{"choose", "", "not a peer of group acme"};
    });
    auto i = Initiator::create({in.initiator_static, *crypto::public_key(in.responder_static), in.group});
    auto m = i->start(in.initiator, tai64n_from_unix(1764892801, 0), Time{});
    auto out = r->consume(*m, in.initiator_from, Time{});
    REQUIRE_FALSE(out);
    CHECK(out.error().why == "not a peer of group acme");  // the caller's reason, as given
    CHECK(out.error().where == "initiation from " + crypto::base64_encode(crypto::public_key(in.initiator_static)->data(), 32));
    auto none = Responder::create({in.responder_static, in.group}, nullptr);
    auto m2 = i->start(in.initiator, tai64n_from_unix(1764892802, 0), Time{});
    CHECK_FALSE(none->consume(*m2, in.initiator_from, Time{}));
}

TEST_CASE("rate limit: a burst of 5 per source IP, then 20 per second") {
    auto p = Pair::make();
    for (int i = 0; i < 5; ++i) CHECK_MESSAGE(p.consume(p.initiation()), i);
    auto sixth = p.consume(p.initiation());
    REQUIRE_FALSE(sixth);
    CHECK(sixth.error().why.find("rate limit") != std::string::npos);
    // Another source address is not limited by this one.
    auto other = p.responder.consume(p.initiation(), Endpoint{*IpAddr::parse("192.0.2.99"), 1}, p.now);
    CHECK(other);
    p.now += milliseconds(50);  // one token back
    CHECK(p.consume(p.initiation()));
    CHECK_FALSE(p.consume(p.initiation()));

    RateLimiter limiter;
    auto ip = *IpAddr::parse("198.51.100.7");
    Time t = Time{} + seconds(10);
    int allowed = 0;
    for (int ms = 0; ms < 10000; ++ms) allowed += limiter.allow(ip, t + milliseconds(ms));
    CHECK(allowed >= 200);  // 5 + 20/s over 10 s
    CHECK(allowed <= 206);
}

TEST_CASE("the rate limiter's table is bounded; idle sources make room") {
    RateLimiter limiter({.per_second = 20, .burst = 5, .max_sources = 3});
    Time t = Time{} + seconds(10);
    CHECK(limiter.allow(IpAddr::v4(1), t));
    CHECK(limiter.allow(IpAddr::v4(2), t));
    CHECK(limiter.allow(IpAddr::v4(3), t));
    CHECK_FALSE(limiter.allow(IpAddr::v4(4), t));  // full of active sources
    CHECK(limiter.allow(IpAddr::v4(4), t + seconds(1)));
    CHECK(limiter.sources() <= 3);
}

TEST_CASE("under load: no DH without a valid mac2; the cookie reply gives one") {
    auto p = Pair::make({.under_load_threshold = 1});
    const Bytes first = p.initiation();
    auto r = p.consume(first);
    REQUIRE(r);
    CHECK_FALSE(r->session);
    REQUIRE(r->reply.size() == kCookieReplyLen);
    CHECK(*peek_type(r->reply) == uint8_t(MessageType::cookie_reply));

    Bytes tampered = r->reply;
    tampered[30] ^= 1;
    CHECK_FALSE(p.initiator.take_cookie(tampered, p.now));
    REQUIRE(p.initiator.take_cookie(r->reply, p.now));

    const Bytes second = p.initiation();  // now carries mac2
    Bytes bad_mac2 = second;
    bad_mac2.back() ^= 1;
    auto refused = p.consume(bad_mac2);
    REQUIRE(refused);
    CHECK_FALSE(refused->session);  // another cookie reply, no handshake
    auto ok = p.consume(second);
    REQUIRE(ok);
    REQUIRE(ok->session);
    CHECK(p.initiator.finish(ok->reply));

    // From another address the cookie is not valid.
    auto elsewhere = p.responder.consume(p.initiation(), Endpoint{*IpAddr::parse("192.0.2.12"), 51820}, p.now);
    REQUIRE(elsewhere);
    CHECK_FALSE(elsewhere->session);

    // The secret is redrawn after 2 minutes: an old cookie no longer counts.
    p.now += seconds(121);
    auto stale = p.consume(p.initiation());
    REQUIRE(stale);
    CHECK_FALSE(stale->session);
}

TEST_CASE("a cookie reply for another initiation is refused") {
    auto p = Pair::make({.under_load_threshold = 1});
    auto r = p.consume(p.initiation());
    REQUIRE(r);
    p.initiation();  // a newer initiation: the reply's AD (its mac1) differs
    CHECK_FALSE(p.initiator.take_cookie(r->reply, p.now));
}

TEST_CASE("load is measured per second and falls back") {
    LoadMeter m(3);
    Time t = Time{} + seconds(100);
    m.record(t);
    m.record(t);
    CHECK_FALSE(m.under_load(t));
    m.record(t + milliseconds(10));
    CHECK(m.under_load(t + milliseconds(10)));
    CHECK(m.under_load(t + milliseconds(1500)));  // stays for a second after
    CHECK_FALSE(m.under_load(t + seconds(3)));
}
