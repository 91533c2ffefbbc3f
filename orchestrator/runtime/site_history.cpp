// What the site remembers of its own history for status and the metrics
// (events.hpp): each converge's outcome and cost, and the uplinks'
// addresses as each converge reads them.
#include <ctime>

#include "orchestrator/runtime/site.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::runtime {

void Site::finish_converge(bool ok, const std::string& line, Clock::time_point t0) {
    const int64_t now = int64_t(std::time(nullptr));
    last_converge_ = LastConverge{now, ok, line};
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ++stats_.applies;
    stats_.failures += ok ? 0 : 1;
    stats_.last_seconds = seconds;
    stats_.total_seconds += seconds;
    events_.add(now, "apply", line);
}

// An uplink that got, lost or changed its address since the last converge
// is an event of the history (the first read only sets the baseline).
void Site::note_uplinks(const std::map<std::string, IpAddr>& addresses) {
    const int64_t now = int64_t(std::time(nullptr));
    if (uplinks_read_) {
        for (const std::string& name : uplinks_of(*intent_)) {
            auto was = uplink_addresses_.find(name);
            auto is = addresses.find(name);
            const bool had = was != uplink_addresses_.end(), has = is != addresses.end();
            if (had && !has) events_.add(now, "uplink", name + ": lost its address " + was->second.str());
            else if (!had && has) events_.add(now, "uplink", name + ": has the address " + is->second.str());
            else if (had && has && was->second != is->second)
                events_.add(now, "uplink", name + ": address " + was->second.str() + " -> " + is->second.str());
        }
    }
    uplink_addresses_ = addresses;
    uplinks_read_ = true;
}

// A WireGuard peer counts as up while its last handshake is younger than
// WireGuard's Reject-After-Time (180 s: after that no data flows without a
// new handshake). Compared with the previous poll's read; the names come
// from the committed plan, looked up only when something changed.
void Site::note_wireguard_peers(const std::map<std::string, wg::WgDeviceStatus>& seen, int64_t now) {
    constexpr int64_t kRejectAfter = 180;
    auto up = [&](const wg::WgPeerStats& p) { return p.last_handshake_sec > 0 && now - p.last_handshake_sec < kRejectAfter; };
    auto was_up = [&](int64_t hs) { return hs > 0 && wireguard_seen_at_ - hs < kRejectAfter; };
    std::vector<std::pair<std::string, bool>> changed;  // public key, up now
    for (const auto& [ifname, dev] : seen) {
        auto before = wireguard_seen_.find(ifname);
        if (before == wireguard_seen_.end()) continue;  // a new device: no earlier state to compare
        const auto& old = before->second.peers;  // both sorted by public key
        size_t j = 0;
        for (const wg::WgPeerStats& p : dev.peers) {
            while (j < old.size() && old[j].public_key < p.public_key) ++j;
            const bool had = j < old.size() && old[j].public_key == p.public_key && was_up(old[j].last_handshake_sec);
            if (had != up(p)) changed.emplace_back(p.public_key, up(p));
        }
    }
    if (changed.empty()) return;
    std::map<std::string, std::string> names;  // public key -> "group/site"
    if (const planner::SitePieces* pieces = planner_.committed())
        for (const planner::GroupPieces& g : pieces->groups)
            for (const planner::PeerInput& p : g.peers) names.emplace(p.public_key, g.constants.group + "/" + p.name);
    for (const auto& [key, is_up] : changed) {
        auto n = names.find(key);
        const std::string who = n == names.end() ? "wireguard peer " + key : n->second;
        const std::string text = who + (is_up ? ": up (handshake)" : ": down (no handshake for 180 s)");
        log_("wireguard: " + text);
        events_.add(now, "peer", text);
    }
}

}  // namespace avpn::runtime
