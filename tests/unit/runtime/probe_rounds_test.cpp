// ProbeRounds (orchestrator/runtime/uplink_prober.hpp): one round a second
// at a steady cadence, a verdict per round (the first answer, or lost at its
// timeout), late answers counted lost; and the echo request's bytes.
#include <doctest/doctest.h>

#include "orchestrator/runtime/uplink_prober.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {
const UplinkClock::time_point t0{std::chrono::hours(1)};
}

TEST_CASE("probe rounds: a round a second, answered once, lost at the timeout") {
    ProbeRounds r(ProbeTiming{1000ms, 500ms});
    REQUIRE(r.due(t0));
    const uint16_t a = r.start(t0);
    CHECK_FALSE(r.due(t0 + 999ms));
    CHECK(r.next_at() == t0 + 500ms);  // the timeout comes first
    auto v = r.answer(a, t0 + 20ms);
    REQUIRE(v);
    CHECK(v->sent_at == t0);
    REQUIRE(v->rtt);
    CHECK(*v->rtt == 20ms);
    CHECK_FALSE(r.answer(a, t0 + 30ms));  // a second target's answer to the same round
    CHECK(r.next_at() == t0 + 1000ms);
    CHECK(r.expire(t0 + 900ms).empty());

    REQUIRE(r.due(t0 + 1000ms));
    const uint16_t b = r.start(t0 + 1000ms);
    CHECK(b != a);
    CHECK(r.expire(t0 + 1499ms).empty());
    auto lost = r.expire(t0 + 1500ms);
    REQUIRE(lost.size() == 1);
    CHECK(lost[0].sent_at == t0 + 1000ms);
    CHECK_FALSE(lost[0].rtt);
    CHECK_FALSE(r.answer(b, t0 + 1600ms));  // after its verdict: nothing
    CHECK_FALSE(r.answer(999, t0 + 1600ms));  // never sent
}

TEST_CASE("probe rounds: a late answer is a loss; the cadence holds, a stall sends one round") {
    ProbeRounds r(ProbeTiming{1000ms, 500ms});
    const uint16_t a = r.start(t0);
    auto v = r.answer(a, t0 + 700ms);  // before expire() ran, but after the timeout
    REQUIRE(v);
    CHECK_FALSE(v->rtt);
    // Woken 30 ms late: the next round is still due at t0 + 2 s.
    r.start(t0 + 1030ms);
    CHECK_FALSE(r.due(t0 + 1999ms));
    CHECK(r.due(t0 + 2000ms));
    // A 5 s stall: one round now, the next a full interval later.
    r.start(t0 + 7000ms);
    CHECK_FALSE(r.due(t0 + 7999ms));
    CHECK(r.due(t0 + 8000ms));
    auto lost = r.expire(t0 + 9000ms);
    CHECK(lost.size() == 2);  // the rounds of t0 + 1030 ms and t0 + 7 s
}

TEST_CASE("echo request: ICMP's checksum over the message comes out 0, and replies parse") {
    const std::string req = probe::echo_request(Family::v4, 0x1234, 7);
    REQUIRE(req.size() == 16);
    CHECK(uint8_t(req[0]) == 8);
    uint32_t sum = 0;
    for (size_t i = 0; i < req.size(); i += 2) sum += uint32_t(uint8_t(req[i])) << 8 | uint8_t(req[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    CHECK(sum == 0xffff);

    // A reply as an IPv4 raw socket reads it: a 20-byte IP header first.
    std::string reply(20, '\0');
    reply[0] = 0x45;
    reply += req;
    reply[20] = 0;  // echo reply
    auto h = probe::parse_echo_reply(Family::v4, reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    REQUIRE(h);
    CHECK(h->identifier == 0x1234);
    CHECK(h->sequence == 7);
    reply[20] = 8;  // a request (our own, looped) is no reply
    CHECK_FALSE(probe::parse_echo_reply(Family::v4, reinterpret_cast<const uint8_t*>(reply.data()), reply.size()));
    CHECK_FALSE(probe::parse_echo_reply(Family::v4, reinterpret_cast<const uint8_t*>(reply.data()), 24));

    std::string six = probe::echo_request(Family::v6, 1, 2);
    CHECK(uint8_t(six[0]) == 128);
    six[0] = char(129);
    auto h6 = probe::parse_echo_reply(Family::v6, reinterpret_cast<const uint8_t*>(six.data()), six.size());
    REQUIRE(h6);
    CHECK(h6->sequence == 2);
}

TEST_CASE("probe targets: each target's own answers, a late or missing one lost, over the last 10 rounds") {
    TargetRounds t(500ms, 10);
    const IpAddr hub_a = *IpAddr::parse("192.0.2.1"), hub_b = *IpAddr::parse("192.0.2.2");
    const IpAddr stranger = *IpAddr::parse("192.0.2.99");
    CHECK_FALSE(t.stats(hub_a));  // never probed
    t.sent(1, t0, {hub_a, hub_b});
    t.answer(1, hub_a, t0 + 4ms);
    t.answer(1, hub_a, t0 + 5ms);     // a duplicate counts once
    t.answer(1, stranger, t0 + 5ms);  // not asked in this round
    t.answer(7, hub_b, t0 + 5ms);     // no such round
    t.expire(t0 + 499ms);
    CHECK_FALSE(t.stats(hub_b));  // hub_b's answer may still come
    t.expire(t0 + 500ms);
    auto a = t.stats(hub_a), b = t.stats(hub_b);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->probes == 1);
    CHECK(a->lost == 0);
    CHECK(a->latency == 4ms);
    CHECK(b->probes == 1);
    CHECK(b->lost == 1);
    CHECK_FALSE(b->latency);
    CHECK_FALSE(t.stats(stranger));
    // Round 2: hub_b answers after the timeout (lost), hub_a in 10 ms.
    t.sent(2, t0 + 1s, {hub_a, hub_b});
    t.answer(2, hub_a, t0 + 1s + 10ms);
    t.answer(2, hub_b, t0 + 1s + 600ms);
    CHECK(t.stats(hub_a)->latency == 7ms);  // (4 + 10) / 2
    CHECK(t.stats(hub_b)->lost == 2);
    // Only the last 10 count: 10 answered rounds of hub_b forget its losses.
    for (uint16_t s = 3; s < 13; ++s) {
        t.sent(s, t0 + s * 1s, {hub_b});
        t.answer(s, hub_b, t0 + s * 1s + 2ms);
    }
    CHECK(t.stats(hub_b)->probes == 10);
    CHECK(t.stats(hub_b)->lost == 0);
    CHECK(t.stats(hub_b)->latency == 2ms);
    CHECK(t.stats(hub_a)->probes == 2);  // rounds without it leave it alone
}
