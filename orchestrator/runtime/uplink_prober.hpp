// Probes through each uplink (docs/uplinks.md, "Probes"): every 0.8 s one
// ICMP echo round per uplink, to each probe target of the uplink's address
// family (the group's hubs' contacts), from a socket bound to the uplink's
// device and address. A round is answered when any target answers within
// the timeout, else lost; the verdicts feed UplinkHealth, whose rule (3
// lost in a row: down) finds an upstream that drops everything while the
// link looks fine.
//
// ProbeRounds is the bookkeeping (pure: the caller passes the time);
// UplinkProber adds the sockets, one per uplink with an address.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/runtime/probe_targets.hpp"
#include "orchestrator/runtime/uplink_health.hpp"
#include "plugins/probe/icmp_echo.hpp"

namespace avpn::runtime {

struct ProbeTiming {
    // ~1 s rounds (the interval, a little under: see below); a
    // verdict 500 ms after sending, so three lost rounds are known 2.1 s
    // after the first was sent and a silent loss moves the tunnels 2.1-2.9 s
    // after it began (the first lost round leaves within an interval), plus
    // one apply: under the 4 s target with a second to spare for a loaded
    // router. With 1 s rounds the worst case was 3.5 s, and the netns test
    // measured 3.36 s between replies. An answer later than the timeout
    // counts as lost.
    std::chrono::milliseconds interval{800};
    std::chrono::milliseconds timeout{500};
};

// One uplink's rounds: which sequence numbers are out, and the verdicts.
class ProbeRounds {
public:
    explicit ProbeRounds(ProbeTiming timing) : timing_(timing) {}

    // Whether a round is due at `now`; start() records it and returns its
    // sequence number.
    bool due(UplinkClock::time_point now) const { return now >= next_round_; }
    uint16_t start(UplinkClock::time_point now);
    // An answer to `sequence` at `now`: the round's verdict, once (later
    // answers to the same round, from other targets, return nullopt).
    std::optional<ProbeResult> answer(uint16_t sequence, UplinkClock::time_point now);
    // Rounds whose timeout passed unanswered, oldest first.
    std::vector<ProbeResult> expire(UplinkClock::time_point now);
    // The next time something is due (a round or a timeout).
    UplinkClock::time_point next_at() const;

private:
    struct Round {
        uint16_t sequence;
        UplinkClock::time_point sent_at;
    };
    ProbeTiming timing_;
    UplinkClock::time_point next_round_{};
    uint16_t next_sequence_ = 1;
    std::deque<Round> out_;  // unanswered, oldest first
};

class UplinkProber {
public:
    using Verdicts = std::vector<std::pair<std::string, ProbeResult>>;

    explicit UplinkProber(ProbeTiming timing = {});

    // The targets of every uplink (duplicates removed). New targets close
    // every socket: call set_uplinks after.
    void set_targets(std::vector<IpAddr> targets);
    const std::vector<IpAddr>& targets() const { return targets_; }
    // The uplinks to probe through and their addresses: a socket is opened
    // for a new uplink or address and closed for one that went. Returns the
    // uplinks whose socket could not be opened, with why (no rounds go
    // through them: their link facts alone decide).
    std::map<std::string, Error> set_uplinks(const std::map<std::string, IpAddr>& addresses);

    std::vector<int> fds() const;
    std::optional<UplinkClock::time_point> next_at() const;
    // Reads the replies waiting (as readable()), then sends the rounds that
    // are due; returns the verdicts of both and of the rounds timed out.
    Verdicts tick(UplinkClock::time_point now);
    // Reads every socket's replies; returns the rounds they answered, timed
    // by the kernel's receive time, so a busy loop's delay is not the path's.
    Verdicts readable(UplinkClock::time_point now);
    // Whether any target ever answered through any uplink: until one does,
    // losses say nothing about the uplinks (a hub that drops ICMP echo).
    bool answered_once() const { return answered_once_; }
    // The last send error per uplink (empty: none since it last worked).
    std::string send_problem(const std::string& uplink) const;
    // One target's latency and loss through `uplink` (probe_targets.hpp);
    // nullopt: not probed through it.
    std::optional<UplinkStats> target_stats(const std::string& uplink, const IpAddr& target) const;

private:
    struct Uplink {
        probe::IcmpEchoSocket socket;
        ProbeRounds rounds;
        TargetRounds targets;
        std::string send_problem;
    };
    ProbeTiming timing_;
    std::vector<IpAddr> targets_;
    std::map<std::string, std::unique_ptr<Uplink>> uplinks_;
    // Each socket's echo identifier: raw sockets see every reply on their
    // device, another avpnd's or ping's included.
    uint16_t next_identifier_ = 0;
    bool answered_once_ = false;
};

}  // namespace avpn::runtime
