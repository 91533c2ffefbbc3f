// Key-exchange work waiting for its converge (docs/xfrm-keying.md,
// "Converges are coalesced"). A handshake that changes a peer's SAs needs a
// converge before its next message may go out (the message tells the peer
// the SAs are in place). An incremental converge at a hub costs O(site) (the
// plan inputs, the sessions' table) while a handshake costs O(1), so work
// that changes SAs is held for up to `hold` and whatever comes meanwhile
// joins it: one converge, then every held message in the order it came.
// The first held work fixes the deadline; later work never moves it, so no
// message waits longer than `hold` plus one converge. Any other converge
// runs the held work first (Site::converge_report), so it never shows in
// another converge's report.
#pragma once

#include <chrono>
#include <optional>

#include "orchestrator/runtime/xfrm_keying.hpp"

namespace avpn::runtime {

class KeyingHold {
public:
    using Clock = std::chrono::steady_clock;
    explicit KeyingHold(std::chrono::milliseconds hold) : hold_(hold) {}

    // A wakeup's work (its events already logged). Returns what to run now:
    // the work itself when it changes no SA and nothing is held (its
    // messages go at once), everything held when the hold is 0, else
    // nothing (held until due_at()).
    std::optional<XfrmKeying::Work> add(XfrmKeying::Work&& work, Clock::time_point now);
    std::optional<Clock::time_point> due_at() const { return due_; }
    // Everything held, to run now (a converge if `apply`, then the sends).
    XfrmKeying::Work take();
    void clear() { take(); }

private:
    std::chrono::milliseconds hold_;
    XfrmKeying::Work held_;
    std::optional<Clock::time_point> due_;
};

}  // namespace avpn::runtime
