// Re-initiation of initiator tunnels that are down, with back-off, for a
// long-lived caller (avpnd). charon keeps retrying by itself only while a
// peer does not answer (keyingtries = 0); after an IKE_AUTH failure
// (AUTHENTICATION_FAILED, no proposal chosen, ...) it deletes the IKE_SA and
// never tries again, so a tunnel whose peer fixes its PSK later would stay
// down until the next apply (observed with strongSwan 5.9.8, docs/vici.md).
//
// RetrySchedule is pure: fed with each initiator's IKE state, it says which
// to initiate now and when each is next due. An established tunnel starts
// over; one charon is working on (CONNECTING, rekeying) is left alone; one
// without an IKE_SA is initiated at once the first time, then after `first`,
// 2 × first, 4 × first ... up to `max` seconds, forever.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace avpn::vici {

struct RetryPolicy {
    int64_t first = 5;   // seconds after the first retry
    int64_t max = 300;   // the longest wait between two attempts
};

struct RetryState {
    int attempts = 0;     // initiations since the tunnel was last seen established
    int64_t next_at = 0;  // unix time of the next attempt (0: now, when seen down)
};

class RetrySchedule {
public:
    explicit RetrySchedule(RetryPolicy p = {}) : policy_(p) {}

    // `ike_state` per initiator name: charon's IKE_SA state, "DOWN" without
    // one. Names not in the map are forgotten. Returns the names to initiate
    // now; each counts as one attempt and gets its next time.
    std::vector<std::string> due(const std::map<std::string, std::string>& ike_state, int64_t now);

    // The earliest next attempt (unix time), 0 when nothing is scheduled.
    int64_t next_due() const;
    const std::map<std::string, RetryState>& all() const { return state_; }
    // The wait after `attempts` attempts: first × 2^(attempts−1), at most max.
    int64_t backoff(int attempts) const;

private:
    RetryPolicy policy_;
    std::map<std::string, RetryState> state_;
};

// The state-directory file that lets `avpnctl status` show the next attempt:
// "<name>\t<attempts>\t<next unix time>" per line, written atomically by
// avpnd and removed when it stops (nobody retries then). Missing: empty.
std::map<std::string, RetryState> load_retries(const std::string& path);
Status save_retries(const std::string& path, const std::map<std::string, RetryState>& retries);

}  // namespace avpn::vici
