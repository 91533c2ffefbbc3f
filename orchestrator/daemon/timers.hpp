// The deadlines of avpnd's event loop, each a small named value so the loop
// reads as "which are due" and new sources add a deadline, not a branch:
// - Timer: one deadline, armed or not (resync, IPsec retry round, watchdog
//   ping, WireGuard poll);
// - DriftDebounce: when a repair is due after drift was noticed.
// Pure: the caller passes the time, so the rules are tested without waiting.
#pragma once

#include <algorithm>
#include <chrono>

namespace avpn::daemon {

using Clock = std::chrono::steady_clock;

class Timer {
public:
    void arm_at(Clock::time_point t) { at_ = t; }
    void arm_in(Clock::duration d, Clock::time_point now) { at_ = now + d; }
    void disarm() { at_ = Clock::time_point::max(); }
    bool armed() const { return at_ != Clock::time_point::max(); }
    bool due(Clock::time_point now) const { return armed() && now >= at_; }
    Clock::time_point at() const { return at_; }  // max() when disarmed

private:
    Clock::time_point at_ = Clock::time_point::max();
};

// A repair is due once nothing new was noticed for `quiet` (an operator's
// script, a link flap and its address and route events come in bursts: one
// repair after the burst, not one per event), but no later than `bound`
// after the first notice, so a kernel that never stops changing is still
// repaired (and then again after the next quiet period or bound).
class DriftDebounce {
public:
    DriftDebounce(Clock::duration quiet, Clock::duration bound) : quiet_(quiet), bound_(std::max(bound, quiet)) {}

    // The default bound: 5 quiet periods, at least 2 s (200 ms quiet: a
    // repair at most 2 s after the first of a stream of changes).
    static Clock::duration default_bound(Clock::duration quiet) {
        return std::max<Clock::duration>(5 * quiet, std::chrono::seconds(2));
    }

    void note(Clock::time_point now) {
        if (!pending()) first_ = now;
        due_ = std::min(now + quiet_, first_ + bound_);
    }
    bool pending() const { return due_ != Clock::time_point::max(); }
    bool due(Clock::time_point now) const { return pending() && now >= due_; }
    Clock::time_point at() const { return due_; }  // max() when nothing is pending
    void clear() { due_ = Clock::time_point::max(); }

private:
    Clock::duration quiet_, bound_;
    Clock::time_point first_{};
    Clock::time_point due_ = Clock::time_point::max();
};

}  // namespace avpn::daemon
