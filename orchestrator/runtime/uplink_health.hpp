// One WAN uplink's health (docs/uplinks.md): is it usable, and if not, why.
// Pure: the caller feeds link facts (rtnetlink link, address and route
// events) and probe results, each with the time it learned them; nothing here
// reads a clock, a socket or the kernel, so every rule is a unit test.
//
// A hard failure (carrier lost, address or default route gone) is down at
// once: the kernel already knows the path is gone. A soft failure (probes
// lost on a link that looks fine) needs `lost_probes_for_down` consecutive
// losses, as BFD needs 3 missed packets, so one dropped probe never moves
// the tunnels. Either way the uplink is up again only once probes sent after
// the link came back are answered: a carrier that returns before its
// upstream does must not win the tunnels back.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>

namespace avpn::runtime {

using UplinkClock = std::chrono::steady_clock;

// The numbers, with their reasons, are in docs/uplinks.md.
struct UplinkRules {
    size_t lost_probes_for_down = 3;
    size_t answered_probes_for_up = 1;
    size_t stats_window = 10;  // the last N probe results make latency and loss
    // false: no probe targets (no hubs, no registries); link facts alone decide.
    bool probing = true;
    std::chrono::milliseconds failback_hold{15'000};
    std::chrono::milliseconds max_failback_hold{120'000};
    std::chrono::milliseconds flap_window{300'000};
};

// One probe sent through the uplink at `sent_at`; `rtt` empty: lost (the
// caller's timeout passed without an answer).
struct ProbeResult {
    UplinkClock::time_point sent_at;
    std::optional<std::chrono::microseconds> rtt;
};

// Latency and loss over the last `stats_window` probe results.
struct UplinkStats {
    size_t probes = 0;
    size_t lost = 0;
    std::optional<std::chrono::microseconds> latency;  // mean RTT of the answered ones
    std::optional<std::chrono::microseconds> last_rtt;
    double loss() const { return probes == 0 ? 0.0 : double(lost) / double(probes); }
};

class UplinkHealth {
public:
    explicit UplinkHealth(const UplinkRules& rules) : rules_(rules) {}

    void set_carrier(bool up, UplinkClock::time_point now);
    void set_address(bool present, UplinkClock::time_point now);
    void set_default_route(bool present, UplinkClock::time_point now);
    void add_probe(const ProbeResult& probe, UplinkClock::time_point now);
    // Whether probe losses count (UplinkRules::probing), changed while
    // running: avpnd counts them once a probe target has ever answered, so
    // a hub that drops ICMP echo does not take every uplink down. Turned
    // on, an uplink up on its link facts stays up and a losing streak
    // already under way counts; turned off, an uplink down only for lost
    // probes is up again.
    void set_probing(bool on, UplinkClock::time_point now);
    bool probing() const { return rules_.probing; }

    bool up() const { return up_; }
    // Why it is down ("carrier lost", "no address", "no default route",
    // "3 probes lost", "no probe answered yet"); empty while up.
    const std::string& why() const { return why_; }
    // When health last changed (either way).
    UplinkClock::time_point since() const { return since_; }
    // While down: when the failure began as best known: the carrier event's
    // time, or the first lost probe's send time of the losing streak.
    std::optional<UplinkClock::time_point> failed_since() const { return failed_since_; }
    UplinkStats stats() const;

    // Up-to-down transitions within the flap window before `now`.
    size_t flaps(UplinkClock::time_point now) const;
    // When the oldest flap still counted at `now` stops counting.
    std::optional<UplinkClock::time_point> next_flap_expiry(UplinkClock::time_point now) const;
    // Whether it has ever gone from up to down (a first up after start-up is
    // not a failback and is held by nothing).
    bool has_failed() const { return failed_once_; }

private:
    bool link_good() const { return carrier_ && address_ && default_route_; }
    std::string probes_lost_why() const { return std::to_string(rules_.lost_probes_for_down) + " probes lost"; }
    void link_changed(bool was_good, UplinkClock::time_point now);
    void go_down(std::string why, UplinkClock::time_point failed_since, UplinkClock::time_point now);
    void go_up(UplinkClock::time_point now);

    UplinkRules rules_;
    bool carrier_ = false, carrier_seen_ = false;
    bool address_ = false, default_route_ = false;
    bool up_ = false;
    std::string why_ = "no carrier";
    UplinkClock::time_point since_{};
    std::optional<UplinkClock::time_point> failed_since_;
    // Probes sent before this are not evidence that the link works now.
    UplinkClock::time_point link_good_since_{};
    std::optional<UplinkClock::time_point> newest_sent_;  // of the results counted in the streaks
    size_t lost_streak_ = 0, answered_streak_ = 0;
    std::optional<UplinkClock::time_point> streak_first_lost_;
    std::deque<ProbeResult> window_;
    std::deque<UplinkClock::time_point> flap_times_;
    bool failed_once_ = false;
};

}  // namespace avpn::runtime
