// Which of a site's uplinks carry the tunnels (docs/uplinks.md). Pure, like
// UplinkHealth: inputs come with the caller's time, and next_check() says
// when a held failback falls due so the caller can set a timer.
//
// `[site] uplinks` is an order of preference. With failover the active
// uplink is the first healthy one, with two exceptions that keep tunnels
// from flapping: while the active uplink stays healthy, a preferred one
// takes over only after being healthy for its hold time (15 s, longer for an
// uplink that keeps failing, capped so the site is never stuck on its
// backup); and when the active one fails, the first healthy uplink takes
// over at once, hold or not, since any working path beats none. With
// active_active every healthy uplink is active. Without failover the first
// uplink is the active one whatever its health.
//
// Every change of the active set is recorded with the failure's start, so
// status can show when and why and how long the switch took.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/runtime/uplink_health.hpp"

namespace avpn::runtime {

struct UplinkSwitch {
    UplinkClock::time_point at;  // when the selector moved the tunnels
    std::string from;            // empty: no uplink was active
    std::string to;              // empty: none is now (all down)
    std::string why;             // the old uplink's failure, or why the new one was chosen
    // When the failure that forced this switch began; equal to `at` for a
    // failback, which interrupts nothing.
    UplinkClock::time_point failed_since;
    bool failback = false;
    // How long the tunnels were on a failed uplink (or on none) before this
    // switch; the caller adds the time its apply took.
    std::chrono::nanoseconds interruption() const { return at - failed_since; }
};

struct UplinkSelectorMode {
    bool failover = true;
    bool active_active = false;
};

class UplinkSelector {
public:
    static constexpr size_t kSwitchesKept = 20;

    UplinkSelector(std::vector<std::string> names_in_order, const UplinkRules& rules, UplinkSelectorMode mode);

    // Inputs for the uplink `name`; each returns whether the active set
    // changed (a re-plan is due). Names that are not uplinks are ignored.
    bool set_carrier(const std::string& name, bool up, UplinkClock::time_point now);
    bool set_address(const std::string& name, bool present, UplinkClock::time_point now);
    bool set_default_route(const std::string& name, bool present, UplinkClock::time_point now);
    bool add_probe(const std::string& name, const ProbeResult& probe, UplinkClock::time_point now);
    // UplinkHealth::set_probing for every uplink.
    bool set_probing(bool on, UplinkClock::time_point now);
    bool probing() const { return rules_.probing; }
    // Re-evaluates held failbacks; call at next_check().
    bool tick(UplinkClock::time_point now) { return select(now); }

    // The uplinks carrying tunnels, in preference order; empty: none healthy.
    std::vector<std::string> active() const;
    bool is_active(const std::string& name) const;
    // When a held failback can next become due (for the caller's timer).
    std::optional<UplinkClock::time_point> next_check(UplinkClock::time_point now) const;
    // How long the uplink must have been healthy before it may take the
    // tunnels back from a less preferred one: 0 before its first failure,
    // the failback hold after one, doubled for each further failure within
    // the flap window, capped at max_failback_hold.
    std::chrono::milliseconds hold(size_t index, UplinkClock::time_point now) const;

    const std::vector<std::string>& names() const { return names_; }
    const UplinkHealth& health(size_t index) const { return health_.at(index); }
    const UplinkHealth* health(const std::string& name) const;
    // The last kSwitchesKept switches, oldest first; `failovers` counts every
    // switch forced by a failure since start.
    const std::deque<UplinkSwitch>& switches() const { return switches_; }
    uint64_t failovers() const { return failovers_; }
    // Every switch recorded since start: the newest `recorded() - n` of
    // switches() are those after a caller saw `n`.
    uint64_t recorded() const { return recorded_; }

private:
    std::optional<size_t> index_of(const std::string& name) const;
    std::vector<bool> wanted(UplinkClock::time_point now) const;
    bool select(UplinkClock::time_point now);
    void record(UplinkSwitch s);

    std::vector<std::string> names_;
    UplinkRules rules_;
    UplinkSelectorMode mode_;
    std::vector<UplinkHealth> health_;
    std::vector<bool> active_;
    // Since when no uplink has been active (the outage a later switch ends).
    std::optional<UplinkClock::time_point> none_since_;
    std::deque<UplinkSwitch> switches_;
    uint64_t failovers_ = 0;
    uint64_t recorded_ = 0;
};

}  // namespace avpn::runtime
