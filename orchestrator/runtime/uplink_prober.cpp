#include "orchestrator/runtime/uplink_prober.hpp"

#include <unistd.h>

#include <algorithm>

namespace avpn::runtime {

uint16_t ProbeRounds::start(UplinkClock::time_point now) {
    // The next round keeps the cadence unless the loop woke late by a
    // round or more (a stalled daemon sends one round, not a burst).
    next_round_ += timing_.interval;
    if (next_round_ <= now) next_round_ = now + timing_.interval;
    const uint16_t seq = next_sequence_++;
    out_.push_back({seq, now});
    return seq;
}

std::optional<ProbeResult> ProbeRounds::answer(uint16_t sequence, UplinkClock::time_point now) {
    auto it = std::find_if(out_.begin(), out_.end(), [&](const Round& r) { return r.sequence == sequence; });
    if (it == out_.end()) return std::nullopt;  // answered already, timed out, or not ours
    ProbeResult r{it->sent_at, std::chrono::duration_cast<std::chrono::microseconds>(now - it->sent_at)};
    out_.erase(it);
    if (*r.rtt > timing_.timeout) r.rtt.reset();  // late: lost, as its timeout would have said
    return r;
}

std::vector<ProbeResult> ProbeRounds::expire(UplinkClock::time_point now) {
    std::vector<ProbeResult> lost;
    while (!out_.empty() && now - out_.front().sent_at >= timing_.timeout) {
        lost.push_back({out_.front().sent_at, std::nullopt});
        out_.pop_front();
    }
    return lost;
}

UplinkClock::time_point ProbeRounds::next_at() const {
    UplinkClock::time_point t = next_round_;
    if (!out_.empty()) t = std::min(t, out_.front().sent_at + timing_.timeout);
    return t;
}

UplinkProber::UplinkProber(ProbeTiming timing)
    : timing_(timing), next_identifier_(uint16_t(::getpid() * 16)) {}

void UplinkProber::set_targets(std::vector<IpAddr> targets) {
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    if (targets == targets_) return;
    answered_once_ = false;  // new targets prove themselves anew
    targets_ = std::move(targets);
    uplinks_.clear();  // set_uplinks opens those with a target of their family
}

std::map<std::string, Error> UplinkProber::set_uplinks(const std::map<std::string, IpAddr>& addresses) {
    std::map<std::string, Error> problems;
    std::erase_if(uplinks_, [&](const auto& u) {
        auto it = addresses.find(u.first);
        return it == addresses.end() || !(it->second == u.second->socket.source());
    });
    for (const auto& [name, address] : addresses) {
        if (uplinks_.contains(name)) continue;
        if (std::none_of(targets_.begin(), targets_.end(), [&](const IpAddr& t) { return t.family == address.family; }))
            continue;  // nothing to probe through it: link facts alone decide
        auto s = probe::IcmpEchoSocket::open(name, address, next_identifier_++);
        if (!s) {
            problems.emplace(name, s.error());
            continue;
        }
        uplinks_.emplace(name, std::make_unique<Uplink>(Uplink{std::move(*s), ProbeRounds(timing_),
                                                               TargetRounds(timing_.timeout, UplinkRules{}.stats_window),
                                                               {}}));
    }
    return problems;
}

std::vector<int> UplinkProber::fds() const {
    std::vector<int> fds;
    for (const auto& [name, u] : uplinks_) fds.push_back(u->socket.fd());
    return fds;
}

std::optional<UplinkClock::time_point> UplinkProber::next_at() const {
    std::optional<UplinkClock::time_point> t;
    if (targets_.empty()) return t;
    for (const auto& [name, u] : uplinks_) t = std::min(t.value_or(UplinkClock::time_point::max()), u->rounds.next_at());
    return t;
}

UplinkProber::Verdicts UplinkProber::tick(UplinkClock::time_point now) {
    // Replies already in the sockets first: a loop that woke late must not
    // time out a round whose answer came in time (the kernel's receive
    // time says when).
    Verdicts out = readable(now);
    if (targets_.empty()) return out;
    for (auto& [name, u] : uplinks_) {
        for (const ProbeResult& r : u->rounds.expire(now)) out.emplace_back(name, r);
        u->targets.expire(now);
        if (!u->rounds.due(now)) continue;
        const uint16_t seq = u->rounds.start(now);
        // A failed send is a lost round: its timeout says so.
        std::string problem;
        std::vector<IpAddr> sent_to;
        for (const IpAddr& t : targets_) {
            if (t.family != u->socket.source().family) continue;
            sent_to.push_back(t);
            if (auto sent = u->socket.send(t, seq); !sent && problem.empty()) problem = sent.error().str();
        }
        u->targets.sent(seq, now, sent_to);
        u->send_problem = std::move(problem);
    }
    return out;
}

UplinkProber::Verdicts UplinkProber::readable(UplinkClock::time_point now) {
    Verdicts out;
    for (auto& [name, u] : uplinks_) {
        for (;;) {
            auto reply = u->socket.receive();
            if (!reply || !*reply) break;  // a read error is a lost round, which its timeout reports
            const auto& r = **reply;
            if (!std::binary_search(targets_.begin(), targets_.end(), r.from)) continue;
            // When the kernel took it in, not when this loop got to it.
            const auto at = r.waited ? now - std::chrono::duration_cast<UplinkClock::duration>(*r.waited) : now;
            u->targets.answer(r.sequence, r.from, at);
            if (auto verdict = u->rounds.answer(r.sequence, at)) {
                answered_once_ |= verdict->rtt.has_value();
                out.emplace_back(name, *verdict);
            }
        }
    }
    return out;
}

std::string UplinkProber::send_problem(const std::string& uplink) const {
    auto it = uplinks_.find(uplink);
    return it == uplinks_.end() ? std::string() : it->second->send_problem;
}

std::optional<UplinkStats> UplinkProber::target_stats(const std::string& uplink, const IpAddr& target) const {
    auto it = uplinks_.find(uplink);
    return it == uplinks_.end() ? std::nullopt : it->second->targets.stats(target);
}

}  // namespace avpn::runtime
