// A responder's defences, as WireGuard's (whitepaper section 5.3 and 5.4),
// each a small value with an injected clock so tests drive time:
//  - TimestampGuard: a peer's accepted initiations carry strictly
//    increasing TAI64N timestamps, so a captured initiation replayed later
//    (or an older one) is rejected even though it still authenticates.
//  - RateLimiter: a token bucket per source IP (20 initiations/s, burst 5),
//    so one address cannot make the responder do X25519 work at will.
//  - CookieJar: the MAC2 cookie. Under load a responder answers an
//    initiation without a valid mac2 with a cookie reply and does no
//    Diffie-Hellman; the cookie is MAC(secret, source IP || port), the
//    secret redrawn every 2 minutes. LoadMeter says when load is "under".
#pragma once

#include <chrono>
#include <map>
#include <unordered_map>

#include "common/ip.hpp"
#include "plugins/keying/handshake_wire.hpp"

namespace avpn::keying {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;  // as peer_session.hpp

class TimestampGuard {
public:
    // Whether `t` is newer than the last timestamp accepted from `peer`.
    bool fresh(const Key32& peer, const Tai64n& t) const;
    // Records `t` as `peer`'s last accepted timestamp (after the handshake
    // authenticated: an attacker cannot push a peer's clock forward).
    void accept(const Key32& peer, const Tai64n& t);

private:
    std::map<Key32, Tai64n> last_;  // one entry per authenticated peer
};

struct RateLimits {
    double per_second = 20;  // WireGuard's INITIATIONS_PER_SECOND-ish figure per source IP
    double burst = 5;
    size_t max_sources = 65536;  // table bound; idle entries are dropped first
};

class RateLimiter {
public:
    explicit RateLimiter(RateLimits limits = {}) : limits_(limits) {}
    // Takes one token of `source`'s bucket; false when it is empty (or the
    // table is full of active sources).
    bool allow(const IpAddr& source, Time now);
    size_t sources() const { return buckets_.size(); }

private:
    struct Bucket {
        double tokens;
        Time last;
    };
    void prune(Time now);
    RateLimits limits_;
    std::map<IpAddr, Bucket> buckets_;
};

// Initiations seen in the last second; "under load" at or above a threshold.
class LoadMeter {
public:
    explicit LoadMeter(size_t threshold) : threshold_(threshold) {}
    void record(Time now);
    bool under_load(Time now) const;

private:
    size_t threshold_;
    Time window_start_{};
    size_t in_window_ = 0, previous_window_ = 0;
};

class CookieJar {
public:
    static constexpr std::chrono::seconds kSecretLifetime{120};
    // The cookie `from` must put under mac2 now (redraws the secret when it
    // is 2 minutes old).
    Result<Mac16> cookie_for(const Endpoint& from, Time now);
    Result<bool> mac2_valid(ByteView datagram, const Endpoint& from, Time now);

private:
    Secret32 secret_;
    std::optional<Time> drawn_;
};

}  // namespace avpn::keying
