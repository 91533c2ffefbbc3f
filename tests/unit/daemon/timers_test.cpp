// The loop's deadlines: a drift repair after a quiet period that restarts
// with every change, bounded from the first change; plain timers.
#include <doctest/doctest.h>

#include "orchestrator/daemon/timers.hpp"

using namespace avpn::daemon;
using namespace std::chrono_literals;

TEST_CASE("a repair is due after the quiet period following the last change, not the first") {
    DriftDebounce d(200ms, 2s);
    const Clock::time_point t0{};
    CHECK_FALSE(d.pending());
    CHECK(d.at() == Clock::time_point::max());
    d.note(t0);
    CHECK(d.pending());
    CHECK(d.at() == t0 + 200ms);
    d.note(t0 + 150ms);  // more changes: wait for them to stop
    CHECK_FALSE(d.due(t0 + 250ms));
    CHECK(d.due(t0 + 350ms));
    d.clear();
    CHECK_FALSE(d.pending());
    CHECK_FALSE(d.due(t0 + 10s));
}

TEST_CASE("a kernel that never goes quiet is still repaired within the bound of its first change") {
    DriftDebounce d(200ms, 2s);
    const Clock::time_point t0{};
    for (auto t = t0; t < t0 + 5s; t += 100ms) {
        d.note(t);
        CHECK(d.at() <= t0 + 2s);
    }
    CHECK(d.at() == t0 + 2s);
    CHECK(d.due(t0 + 2s));
    d.clear();  // the repair ran; the next stream has its own bound
    d.note(t0 + 5s);
    CHECK(d.at() == t0 + 5s + 200ms);
}

TEST_CASE("the default bound: five quiet periods, at least 2 s; never shorter than one quiet period") {
    CHECK(DriftDebounce::default_bound(200ms) == 2s);
    CHECK(DriftDebounce::default_bound(1s) == 5s);
    CHECK(DriftDebounce::default_bound(0ms) == 2s);
    DriftDebounce zero(0ms, DriftDebounce::default_bound(0ms));
    zero.note(Clock::time_point{});
    CHECK(zero.due(Clock::time_point{}));  // --quiet-ms 0: at once
    DriftDebounce odd(3s, 1s);             // a bound below quiet is raised to it
    odd.note(Clock::time_point{});
    CHECK(odd.at() == Clock::time_point{} + 3s);
}

TEST_CASE("timers: disarmed never fire; armed fire from their time on") {
    Timer t;
    CHECK_FALSE(t.armed());
    CHECK_FALSE(t.due(Clock::time_point::max()));
    const Clock::time_point t0{};
    t.arm_in(1s, t0);
    CHECK_FALSE(t.due(t0 + 999ms));
    CHECK(t.due(t0 + 1s));
    t.disarm();
    CHECK_FALSE(t.due(t0 + 1h));
}
