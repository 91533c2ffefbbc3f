// avpnd's uplink probes (orchestrator/runtime/uplink_prober.hpp) against the
// real kernel, in a namespace of the test's own: a raw ICMP socket bound to
// lo answers itself. What a unit test cannot show: the kernel's receive
// timestamp (SO_TIMESTAMPNS) makes a reply that a busy loop reads late count
// by when it arrived, not by when the loop got to it.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "orchestrator/runtime/uplink_prober.hpp"
#include "plugins/probe/icmp_echo.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

const IpAddr kLoopback = *IpAddr::parse("127.0.0.1");

void lo_up() { REQUIRE(std::system("ip link set lo up") == 0); }

}  // namespace

TEST_CASE("a reply read late says how long it waited in the socket") {
    lo_up();
    auto s = probe::IcmpEchoSocket::open("lo", kLoopback, 0x4156);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
    REQUIRE(s->send(kLoopback, 7).ok());
    std::this_thread::sleep_for(400ms);
    auto r = s->receive();
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->sequence == 7);
    CHECK((*r)->from == kLoopback);
    REQUIRE((*r)->waited);
    // The reply came within a moment of the send (the kernel answers on
    // lo at once; a loaded machine may delay it a little).
    const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*(*r)->waited).count();
    CHECK_MESSAGE(waited_ms >= 250, "waited " << waited_ms << " ms");
    CHECK_MESSAGE(waited_ms < 2000, "waited " << waited_ms << " ms");
    auto none = s->receive();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
}

TEST_CASE("a round answered in time is answered, though the loop reads it after the timeout") {
    lo_up();
    UplinkProber prober(ProbeTiming{800ms, 500ms});
    prober.set_targets({kLoopback});
    REQUIRE(prober.set_uplinks({{"lo", kLoopback}}).empty());
    const auto start = UplinkClock::now();
    CHECK(prober.tick(start).empty());  // the first round goes out
    // The loop is busy for 700 ms: the answer waits in the socket.
    std::this_thread::sleep_for(700ms);
    const auto verdicts = prober.tick(UplinkClock::now());
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].first == "lo");
    REQUIRE(verdicts[0].second.rtt);
    // Under the 500 ms timeout: the kernel's receive time, not the 700 ms
    // after which the loop read it.
    CHECK(*verdicts[0].second.rtt < 400ms);
    CHECK(prober.answered_once());
    auto st = prober.target_stats("lo", kLoopback);
    REQUIRE(st);
    CHECK(st->probes == 1);
    CHECK(st->lost == 0);
}
