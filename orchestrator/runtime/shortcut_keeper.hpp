// Direct spoke-to-spoke shortcuts (docs/shortcuts.md): which other spokes
// this site keeps a shortcut with, decided from what avpnd observes about
// each candidate once a second. Pure: the caller passes the time and the
// observations; the states become PlanInputs::shortcuts.
//
// Per candidate: idle -> opening (traffic to or from it passed through a hub
// since the last look, both NATs allow it, and no back-off holds) -> trying
// (after `opening_for`) -> up (its shortcut peer completed a WireGuard
// handshake) -> idle again when:
// - trying found no handshake within `trying_for` (back-off, doubling);
// - up lost `lost_probes` probes in a row once `settle` passed (back-off):
//   the shortcut stopped carrying authenticated traffic in both directions;
// - no traffic for `idle_after` (no back-off: the next packet tries again);
// - its contact is gone.
// Never stuck on either path: the hub path stays planned throughout, a
// failed shortcut is retried after its back-off, and a working one is
// dropped the moment its probes fail.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/plan/planner.hpp"

namespace avpn::runtime {

struct ShortcutTiming {
    // Openers only, no WireGuard peer yet: each end's NAT gets its mapping
    // toward the other before any initiation arrives there (docs/
    // shortcuts.md, "The punch"). Longer than the two ends' looks are apart.
    std::chrono::seconds opening_for{2};
    // The initiating end opens this much longer, so the answering end (which
    // started within a look of it) has its peer before the initiation comes:
    // WireGuard drops one from a key it does not know, and retries 5 s later.
    std::chrono::seconds answer_lead{1};
    // Two of WireGuard's handshake attempts (one each 5 s) and a margin.
    std::chrono::seconds trying_for{12};
    std::chrono::seconds idle_after{60};
    std::chrono::seconds backoff_first{30};
    std::chrono::seconds backoff_max{600};
    int lost_probes = 3;  // in a row, at one probe a second
    // After up, the other end moves its traffic at its own next look (up to
    // a second later, plus its converge): replies come back through the
    // hub and are dropped until then, so losses do not count yet.
    std::chrono::seconds settle{3};
};

// One candidate's observations at one look.
struct ShortcutSeen {
    std::optional<uint64_t> packets;  // its watch counter (to and from it); nullopt: unread
    bool contact = false;             // its contact is known: without, none can run
    // Both NATs allow a shortcut: gates a new one only, as a running one
    // proves itself by its probes (the registries may all be gone, or a
    // verdict wobble for a round, and the path still works).
    bool eligible = false;
    std::string why_not;              // why not eligible, for status and the log
    bool handshake = false;           // its shortcut peer completed a handshake
    std::optional<bool> probe;        // a probe round that ended now: answered (true) or lost
    // This end sends the handshake's initiation while trying; the other end
    // only answers (both ends must agree: glue's rule, docs/shortcuts.md).
    bool initiate = true;
};

class ShortcutKeeper {
public:
    using Key = std::pair<std::string, std::string>;  // (group, other spoke)
    using Time = std::chrono::steady_clock::time_point;

    explicit ShortcutKeeper(ShortcutTiming timing = {}) : timing_(timing) {}

    // One look at every candidate; one missing from `seen` is forgotten
    // (the config no longer has it). Returns log lines.
    std::vector<std::string> update(const std::map<Key, ShortcutSeen>& seen, Time now);
    std::map<Key, ShortcutState> states() const;
    bool take_changed() { return std::exchange(changed_, false); }
    // Those whose NAT mapping toward the other end is being opened: opening
    // and trying (the openers go on until the handshake).
    std::vector<Key> opening() const;

    struct Row {
        Key key;
        std::string state;  // "idle", "opening", "trying", "up" or "held" (a back-off runs)
        std::string why;    // not eligible, or how the last one ended
        std::optional<std::chrono::milliseconds> for_ms;  // in this state (trying, up) or left of the back-off (held)
        uint64_t ups = 0, failures = 0;
    };
    std::vector<Row> status(Time now) const;

private:
    enum class Phase { idle, opening, trying, up };
    struct Entry {
        Phase phase = Phase::idle;
        std::optional<uint64_t> packets;  // at the last look
        Time last_traffic{}, since{}, next_try{};
        bool initiate = true;
        std::chrono::seconds backoff{0};
        int lost = 0;
        std::string why;
        uint64_t ups = 0, failures = 0;
    };
    void end(const Key& key, Entry& e, Time now, const std::string& why, bool back_off, std::vector<std::string>& log);

    ShortcutTiming timing_;
    std::map<Key, Entry> entries_;
    bool changed_ = false;
};

}  // namespace avpn::runtime
