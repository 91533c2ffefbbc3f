// Each probe target's own answers through one uplink (docs/uplinks.md,
// "Probes"): a round goes to every target of the uplink's family and is
// answered when any one answers, which is what the uplink's health needs;
// status shows each peer's latency and loss, so which targets answered
// each round is kept too. Pure: the caller passes the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/runtime/uplink_health.hpp"

namespace avpn::runtime {

class TargetRounds {
public:
    // `timeout`: a later answer counts as lost, as for the round;
    // `window`: results kept per target (UplinkRules::stats_window's 10).
    TargetRounds(std::chrono::milliseconds timeout, size_t window) : timeout_(timeout), window_(window) {}

    void sent(uint16_t sequence, UplinkClock::time_point at, const std::vector<IpAddr>& targets);
    void answer(uint16_t sequence, const IpAddr& from, UplinkClock::time_point now);
    // Targets whose round timed out unanswered count a loss.
    void expire(UplinkClock::time_point now);
    // Over the target's last `window` results; nullopt: never probed.
    std::optional<UplinkStats> stats(const IpAddr& target) const;

private:
    struct Round {
        uint16_t sequence;
        UplinkClock::time_point sent_at;
        std::vector<IpAddr> waiting;  // targets not answered yet
    };
    void record(const IpAddr& target, std::optional<std::chrono::microseconds> rtt);

    std::chrono::milliseconds timeout_;
    size_t window_;
    std::deque<Round> out_;  // oldest first
    std::map<IpAddr, std::deque<std::optional<std::chrono::microseconds>>> results_;
};

}  // namespace avpn::runtime
