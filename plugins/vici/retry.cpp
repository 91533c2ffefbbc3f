#include "plugins/vici/retry.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/fingerprint_store.hpp"

namespace avpn::vici {

int64_t RetrySchedule::backoff(int attempts) const {
    int64_t wait = policy_.first;
    for (int i = 1; i < attempts && wait < policy_.max; ++i) wait *= 2;
    return std::min(wait, policy_.max);
}

std::vector<std::string> RetrySchedule::due(const std::map<std::string, std::string>& ike_state, int64_t now) {
    for (auto it = state_.begin(); it != state_.end();)
        it = ike_state.contains(it->first) ? std::next(it) : state_.erase(it);
    std::vector<std::string> out;
    for (const auto& [name, ike] : ike_state) {
        if (ike == "ESTABLISHED") {
            state_.erase(name);  // up: the next failure starts over
            continue;
        }
        if (ike != "DOWN") continue;  // charon is on it (connecting, or deleting)
        RetryState& s = state_[name];
        if (s.attempts > 0 && now < s.next_at) continue;
        ++s.attempts;
        s.next_at = now + backoff(s.attempts);
        out.push_back(name);
    }
    return out;
}

int64_t RetrySchedule::next_due() const {
    int64_t next = 0;
    for (const auto& [name, s] : state_)
        if (next == 0 || s.next_at < next) next = s.next_at;
    return next;
}

std::map<std::string, RetryState> load_retries(const std::string& path) {
    std::map<std::string, RetryState> out;
    std::istringstream in(read_advisory_record(path));  // never through a symlink
    std::string line;
    while (in && std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        size_t t1 = line.find('\t'), t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
        if (t2 == std::string::npos) continue;
        RetryState s;
        const char* end = line.data() + line.size();
        auto [p1, e1] = std::from_chars(line.data() + t1 + 1, line.data() + t2, s.attempts);
        auto [p2, e2] = std::from_chars(line.data() + t2 + 1, end, s.next_at);
        std::string name = line.substr(0, t1);
        if (e1 != std::errc() || e2 != std::errc() || p1 != line.data() + t2 || p2 != end ||
            !name.starts_with(kConnPrefix))
            continue;
        out[name] = s;
    }
    return out;
}

Status save_retries(const std::string& path, const std::map<std::string, RetryState>& retries) {
    std::string text = "# avpn ipsec retries v1 (avpnd)\n";
    for (const auto& [name, s] : retries)
        text += name + "\t" + std::to_string(s.attempts) + "\t" + std::to_string(s.next_at) + "\n";
    return write_text_atomic(path, text);
}

}  // namespace avpn::vici
