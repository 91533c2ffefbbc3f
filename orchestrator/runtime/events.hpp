// The short history avpnd keeps for `avpnctl status`: the last few things
// that happened to the site (an apply and how it went, an uplink that got or
// lost its address, a WireGuard or XFRM peer that came up or went down),
// newest last.
// Bounded, so a flapping peer costs a fixed amount of memory; older events
// are in the journal (avpnd logs every one of them too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace avpn::runtime {

struct SiteEvent {
    int64_t at = 0;    // unix time
    std::string kind;  // "apply" | "uplink" | "peer"
    std::string text;
    bool operator==(const SiteEvent&) const = default;
};

class EventLog {
public:
    static constexpr size_t kKept = 20;

    void add(int64_t at, std::string kind, std::string text) {
        if (events_.size() == kKept) events_.pop_front();
        events_.push_back(SiteEvent{at, std::move(kind), std::move(text)});
    }
    const std::deque<SiteEvent>& events() const { return events_; }

private:
    std::deque<SiteEvent> events_;
};

// What the site's applies did since avpnd started, for the metrics.
struct ApplyStats {
    uint64_t applies = 0;   // converges that ran (full applies and changes)
    uint64_t failures = 0;  // ... and failed
    double last_seconds = 0, total_seconds = 0;
};

}  // namespace avpn::runtime
