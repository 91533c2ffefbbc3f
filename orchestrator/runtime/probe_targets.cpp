#include "orchestrator/runtime/probe_targets.hpp"

#include <algorithm>

namespace avpn::runtime {

void TargetRounds::sent(uint16_t sequence, UplinkClock::time_point at, const std::vector<IpAddr>& targets) {
    if (!targets.empty()) out_.push_back({sequence, at, targets});
}

void TargetRounds::answer(uint16_t sequence, const IpAddr& from, UplinkClock::time_point now) {
    auto round = std::find_if(out_.begin(), out_.end(), [&](const Round& r) { return r.sequence == sequence; });
    if (round == out_.end()) return;  // timed out already, or not ours
    auto target = std::find(round->waiting.begin(), round->waiting.end(), from);
    if (target == round->waiting.end()) return;  // a duplicate answer
    round->waiting.erase(target);
    const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - round->sent_at);
    record(from, rtt > timeout_ ? std::nullopt : std::optional(rtt));
    if (round->waiting.empty()) out_.erase(round);
}

void TargetRounds::expire(UplinkClock::time_point now) {
    while (!out_.empty() && now - out_.front().sent_at >= timeout_) {
        for (const IpAddr& t : out_.front().waiting) record(t, std::nullopt);
        out_.pop_front();
    }
}

void TargetRounds::record(const IpAddr& target, std::optional<std::chrono::microseconds> rtt) {
    auto& kept = results_[target];
    kept.push_back(rtt);
    while (kept.size() > window_) kept.pop_front();
}

std::optional<UplinkStats> TargetRounds::stats(const IpAddr& target) const {
    auto it = results_.find(target);
    if (it == results_.end()) return std::nullopt;
    UplinkStats s;
    std::chrono::microseconds sum{0};
    size_t answered = 0;
    for (const auto& r : it->second) {
        ++s.probes;
        if (!r) {
            ++s.lost;
            continue;
        }
        sum += *r;
        ++answered;
        s.last_rtt = *r;
    }
    if (answered) s.latency = sum / long(answered);
    return s;
}

}  // namespace avpn::runtime
