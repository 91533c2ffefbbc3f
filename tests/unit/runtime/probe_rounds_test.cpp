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
