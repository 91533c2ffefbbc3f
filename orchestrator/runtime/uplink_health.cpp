#include "orchestrator/runtime/uplink_health.hpp"

#include <utility>

namespace avpn::runtime {

namespace {

// A flapping link could otherwise grow the history without bound inside one
// window; more flaps than this change nothing (the hold is capped long before).
constexpr size_t kFlapsKept = 64;

}  // namespace

void UplinkHealth::set_carrier(bool up, UplinkClock::time_point now) {
    const bool was = link_good();
    if (up) carrier_seen_ = true;
    carrier_ = up;
    link_changed(was, now);
}

void UplinkHealth::set_address(bool present, UplinkClock::time_point now) {
    const bool was = link_good();
    address_ = present;
    link_changed(was, now);
}

void UplinkHealth::set_default_route(bool present, UplinkClock::time_point now) {
    const bool was = link_good();
    default_route_ = present;
    link_changed(was, now);
}

void UplinkHealth::link_changed(bool was_good, UplinkClock::time_point now) {
    if (!link_good()) {
        // The most basic missing fact is the reason: without a carrier the
        // address and route do not matter.
        std::string why = !carrier_ ? (carrier_seen_ ? "carrier lost" : "no carrier")
                          : !address_ ? "no address"
                                      : "no default route";
        answered_streak_ = 0;
        if (up_) {
            go_down(std::move(why), now, now);
        } else {
            why_ = std::move(why);
        }
        return;
    }
    if (was_good) return;
    // Evidence from before this moment says nothing about the link now.
    link_good_since_ = now;
    answered_streak_ = 0;
    lost_streak_ = 0;
    streak_first_lost_.reset();
    if (!rules_.probing) {
        go_up(now);
    } else {
        why_ = "no probe answered yet";
    }
}

void UplinkHealth::add_probe(const ProbeResult& probe, UplinkClock::time_point now) {
    window_.push_back(probe);
    while (window_.size() > rules_.stats_window) window_.pop_front();

    // A verdict on an older probe that arrives after a newer one's (a
    // timeout overtaken by a later answer) counts in the figures only.
    if (newest_sent_ && probe.sent_at < *newest_sent_) return;
    newest_sent_ = probe.sent_at;

    if (probe.rtt) {
        lost_streak_ = 0;
        streak_first_lost_.reset();
        if (!link_good() || probe.sent_at < link_good_since_) return;
        ++answered_streak_;
        if (!up_ && rules_.probing && answered_streak_ >= rules_.answered_probes_for_up) go_up(now);
        return;
    }
    answered_streak_ = 0;
    if (lost_streak_ == 0) streak_first_lost_ = probe.sent_at;
    ++lost_streak_;
    if (!rules_.probing || !link_good() || lost_streak_ < rules_.lost_probes_for_down) return;
    std::string why = probes_lost_why();
    if (up_) {
        go_down(std::move(why), *streak_first_lost_, now);
    } else {
        why_ = std::move(why);
    }
}

void UplinkHealth::set_probing(bool on, UplinkClock::time_point now) {
    if (rules_.probing == on) return;
    rules_.probing = on;
    if (on) {
        if (up_ && link_good() && lost_streak_ >= rules_.lost_probes_for_down)
            go_down(probes_lost_why(), *streak_first_lost_, now);
        return;
    }
    if (!up_ && link_good()) go_up(now);
}

void UplinkHealth::go_down(std::string why, UplinkClock::time_point failed_since, UplinkClock::time_point now) {
    up_ = false;
    why_ = std::move(why);
    since_ = now;
    failed_since_ = failed_since;
    failed_once_ = true;
    flap_times_.push_back(now);
    while (!flap_times_.empty() &&
           (flap_times_.front() <= now - rules_.flap_window || flap_times_.size() > kFlapsKept)) {
        flap_times_.pop_front();
    }
}

void UplinkHealth::go_up(UplinkClock::time_point now) {
    up_ = true;
    why_.clear();
    since_ = now;
    failed_since_.reset();
}

size_t UplinkHealth::flaps(UplinkClock::time_point now) const {
    size_t n = 0;
    for (auto t : flap_times_) {
        if (t > now - rules_.flap_window && t <= now) ++n;
    }
    return n;
}

std::optional<UplinkClock::time_point> UplinkHealth::next_flap_expiry(UplinkClock::time_point now) const {
    for (auto t : flap_times_) {
        if (t > now - rules_.flap_window) return t + rules_.flap_window;
    }
    return std::nullopt;
}

UplinkStats UplinkHealth::stats() const {
    UplinkStats s;
    std::chrono::microseconds sum{0};
    size_t answered = 0;
    for (const auto& p : window_) {
        ++s.probes;
        if (!p.rtt) {
            ++s.lost;
            continue;
        }
        sum += *p.rtt;
        ++answered;
        s.last_rtt = *p.rtt;
    }
    if (answered > 0) s.latency = sum / static_cast<long>(answered);
    return s;
}

}  // namespace avpn::runtime
