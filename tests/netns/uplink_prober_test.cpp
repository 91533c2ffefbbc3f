// avpnd's uplink probes (orchestrator/runtime/uplink_prober.hpp) against the
// real kernel: the test's namespace holds "wan0", a veth whose other end
// is in a second namespace that answers the echoes. Not lo: Debian's 6.1
// stamps a reply generated and delivered on lo only when it is read
// (measured: 0 ms waited), a reply that crossed a device when it arrived.
// What a unit test cannot show: the kernel's receive timestamp
// (SO_TIMESTAMPNS) makes a reply that a busy loop reads late count by when
// it arrived, not by when the loop got to it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "orchestrator/runtime/uplink_prober.hpp"
#include "plugins/probe/icmp_echo.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

const IpAddr kSource = *IpAddr::parse("10.97.0.1");
const IpAddr kTarget = *IpAddr::parse("10.97.0.2");

// wan0 (10.97.0.1) here, its peer 10.97.0.2 in a namespace that answers;
// made once for the binary, the far namespace deleted at exit.
struct FarEnd {
    std::string ns = "avpn-probe-far-" + std::to_string(::getpid());
    FarEnd() {
        // A run killed before its exit left its far end: gone first.
        (void)std::system("for n in $(ip netns list | grep -o 'avpn-probe-far-[0-9]*'); do "
                          "kill -0 ${n##*-} 2>/dev/null || ip netns del $n; done");
        const std::string script =
            "set -e; ip link set lo up; ip netns add " + ns + "; ip link add wan0 type veth peer name far netns " +
            ns + "; ip addr add 10.97.0.1/24 dev wan0; ip link set wan0 up; ip -n " + ns +
            " addr add 10.97.0.2/24 dev far; ip -n " + ns + " link set far up; ip -n " + ns + " link set lo up";
        REQUIRE(std::system(("sh -c '" + script + "'").c_str()) == 0);
    }
    ~FarEnd() { (void)std::system(("ip netns del " + ns).c_str()); }
};

void far_end() { static FarEnd once; }

}  // namespace

TEST_CASE("a reply read late says how long it waited in the socket") {
    far_end();
    auto s = probe::IcmpEchoSocket::open("wan0", kSource, 0x4156);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
    // The first echo resolves the far end's MAC; the one measured goes
    // after it.
    REQUIRE(s->send(kTarget, 6).ok());
    std::this_thread::sleep_for(200ms);
    while (true) {
        auto first = s->receive();
        REQUIRE(first.ok());
        if (!first->has_value()) break;
    }
    REQUIRE(s->send(kTarget, 7).ok());
    std::this_thread::sleep_for(400ms);
    auto r = s->receive();
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->sequence == 7);
    CHECK((*r)->from == kTarget);
    REQUIRE((*r)->waited);
    // The reply came within a moment of the send (the far end answers at
    // once; a loaded machine may delay it a little).
    const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*(*r)->waited).count();
    CHECK_MESSAGE(waited_ms >= 250, "waited " << waited_ms << " ms");
    CHECK_MESSAGE(waited_ms < 2000, "waited " << waited_ms << " ms");
    auto none = s->receive();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
}

TEST_CASE("a round answered in time is answered, though the loop reads it after the timeout") {
    far_end();
    UplinkProber prober(ProbeTiming{800ms, 500ms});
    prober.set_targets({kTarget});
    REQUIRE(prober.set_uplinks({{"wan0", kSource}}).empty());
    const auto start = UplinkClock::now();
    CHECK(prober.tick(start).empty());  // the first round goes out
    // The loop is busy for 700 ms: the answer waits in the socket.
    std::this_thread::sleep_for(700ms);
    const auto verdicts = prober.tick(UplinkClock::now());
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].first == "wan0");
    REQUIRE(verdicts[0].second.rtt);
    // Under the 500 ms timeout: the kernel's receive time, not the 700 ms
    // after which the loop read it.
    CHECK(*verdicts[0].second.rtt < 400ms);
    CHECK(prober.answered_once());
    auto st = prober.target_stats("wan0", kTarget);
    REQUIRE(st);
    CHECK(st->probes == 1);
    CHECK(st->lost == 0);
}
