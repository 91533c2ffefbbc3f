#include "orchestrator/runtime/shortcut_keeper.hpp"

#include <algorithm>

namespace avpn::runtime {

namespace {

std::string name_of(const ShortcutKeeper::Key& k) { return k.first + "/" + k.second; }

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

}  // namespace

void ShortcutKeeper::end(const Key& key, Entry& e, Time now, const std::string& why, bool back_off,
                         std::vector<std::string>& log) {
    const bool was_up = e.phase == Phase::up;
    e.phase = Phase::idle;
    e.why = why;
    e.lost = 0;
    changed_ = true;
    std::string line = "shortcut to " + name_of(key) + (was_up ? " down: " : " given up: ") + why;
    if (back_off) {
        ++e.failures;
        e.backoff = e.backoff.count() == 0 ? timing_.backoff_first : std::min(2 * e.backoff, timing_.backoff_max);
        e.next_try = now + e.backoff;
        line += "; next try in " + seconds_text(e.backoff) + " at the earliest";
    }
    log.push_back(line + (was_up ? "; its traffic goes through the hub" : ""));
}

std::vector<std::string> ShortcutKeeper::update(const std::map<Key, ShortcutSeen>& seen, Time now) {
    std::vector<std::string> log;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        if (it->second.phase != Phase::idle) changed_ = true;
        it = entries_.erase(it);
    }
    for (const auto& [key, s] : seen) {
        Entry& e = entries_[key];
        // Traffic: the counter grew since the last look. The first reading
        // is only a baseline, so a restart does not count old packets; a
        // smaller one is a new start (the table was replaced), not traffic.
        bool traffic = false;
        if (s.packets) {
            traffic = e.packets && *s.packets > *e.packets;
            e.packets = s.packets;
        }
        if (traffic) e.last_traffic = now;
        if (e.initiate != s.initiate && e.phase == Phase::trying) changed_ = true;
        e.initiate = s.initiate;
        if (e.phase != Phase::idle && !s.contact) {
            end(key, e, now, "its contact is gone", false, log);
            continue;
        }
        switch (e.phase) {
        case Phase::idle:
            if (!s.eligible || !s.contact) {
                e.why = s.contact ? s.why_not : "no contact";
                break;
            }
            if (traffic && now >= e.next_try) {
                e.phase = Phase::opening;
                e.since = now;
                log.push_back("shortcut to " + name_of(key) + " opening: traffic passes through the hub");
            }
            break;
        case Phase::opening:
            if (now - e.since >= timing_.opening_for + (e.initiate ? timing_.answer_lead : std::chrono::seconds(0))) {
                e.phase = Phase::trying;
                e.since = now;
                changed_ = true;
                log.push_back("shortcut to " + name_of(key) + " trying: its WireGuard peer handshakes");
            }
            break;
        case Phase::trying:
            if (s.handshake) {
                e.phase = Phase::up;
                e.since = now;
                e.lost = 0;
                e.why.clear();
                ++e.ups;
                changed_ = true;
                log.push_back("shortcut to " + name_of(key) + " up: handshake done, its traffic goes direct");
            } else if (now - e.since >= timing_.trying_for) {
                end(key, e, now, "no handshake within " + seconds_text(timing_.trying_for), true, log);
            }
            break;
        case Phase::up:
            if (s.probe && now - e.since >= timing_.settle) e.lost = *s.probe ? 0 : e.lost + 1;
            if (s.probe && *s.probe) e.backoff = std::chrono::seconds(0);  // it works: a later failure starts over
            if (e.lost >= timing_.lost_probes)
                end(key, e, now, std::to_string(e.lost) + " probes in a row unanswered", true, log);
            else if (now - e.last_traffic >= timing_.idle_after)
                end(key, e, now, "idle for " + seconds_text(timing_.idle_after), false, log);
            break;
        }
        if ((e.phase == Phase::opening || e.phase == Phase::trying) && now - e.last_traffic >= timing_.idle_after)
            end(key, e, now, "idle for " + seconds_text(timing_.idle_after), false, log);
    }
    return log;
}

std::map<ShortcutKeeper::Key, ShortcutState> ShortcutKeeper::states() const {
    std::map<Key, ShortcutState> out;
    for (const auto& [key, e] : entries_) {
        if (e.phase == Phase::trying) out.emplace(key, e.initiate ? ShortcutState::trying : ShortcutState::answering);
        if (e.phase == Phase::up) out.emplace(key, ShortcutState::up);
    }
    return out;
}

std::vector<ShortcutKeeper::Key> ShortcutKeeper::opening() const {
    std::vector<Key> out;
    for (const auto& [key, e] : entries_)
        if (e.phase == Phase::opening || e.phase == Phase::trying) out.push_back(key);
    return out;
}

std::vector<ShortcutKeeper::Row> ShortcutKeeper::status(Time now) const {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    std::vector<Row> out;
    for (const auto& [key, e] : entries_) {
        Row r{key, "idle", e.why, std::nullopt, e.ups, e.failures};
        if (e.phase == Phase::opening) r.state = "opening";
        if (e.phase == Phase::trying) r.state = "trying";
        if (e.phase == Phase::up) r.state = "up";
        if (e.phase != Phase::idle) r.for_ms = duration_cast<milliseconds>(now - e.since);
        if (e.phase == Phase::idle && now < e.next_try) {
            r.state = "held";
            r.for_ms = duration_cast<milliseconds>(e.next_try - now);
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace avpn::runtime
