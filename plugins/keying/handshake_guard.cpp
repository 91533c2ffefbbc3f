#include "plugins/keying/handshake_guard.hpp"

#include <openssl/rand.h>

#include <algorithm>

namespace avpn::keying {

bool TimestampGuard::fresh(const Key32& peer, const Tai64n& t) const {
    auto it = last_.find(peer);
    return it == last_.end() || t > it->second;  // big-endian bytes compare as numbers
}

void TimestampGuard::accept(const Key32& peer, const Tai64n& t) { last_[peer] = t; }

bool RateLimiter::allow(const IpAddr& source, Time now) {
    auto it = buckets_.find(source);
    if (it == buckets_.end()) {
        if (buckets_.size() >= limits_.max_sources) prune(now);
        if (buckets_.size() >= limits_.max_sources) return false;
        it = buckets_.emplace(source, Bucket{limits_.burst, now}).first;
    }
    Bucket& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    if (elapsed > 0) b.tokens = std::min(limits_.burst, b.tokens + elapsed * limits_.per_second);
    b.last = std::max(b.last, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
}

void RateLimiter::prune(Time now) {
    // A bucket that would be full again is the same as no bucket.
    const auto refill = std::chrono::duration<double>(limits_.burst / limits_.per_second);
    std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.last >= refill; });
}

void LoadMeter::record(Time now) {
    if (now - window_start_ >= std::chrono::seconds(1)) {
        previous_window_ = now - window_start_ >= std::chrono::seconds(2) ? 0 : in_window_;
        window_start_ = now;
        in_window_ = 0;
    }
    ++in_window_;
}

bool LoadMeter::under_load(Time now) const {
    // This window's count, or the last full one's while it is recent:
    // load stays "under" for a second after a burst, as WireGuard's does.
    if (now - window_start_ >= std::chrono::seconds(2)) return false;
    const size_t prev = now - window_start_ < std::chrono::seconds(1) ? previous_window_ : in_window_;
    return std::max(in_window_, prev) >= threshold_;
}

Result<Mac16> CookieJar::cookie_for(const Endpoint& from, Time now) {
    if (!drawn_ || now - *drawn_ >= kSecretLifetime) {
        if (RAND_bytes(secret_.get().data(), int(secret_.get().size())) != 1)
            return Error{"cookie secret", "", "no randomness"};
        drawn_ = now;
    }
    const uint8_t port[2] = {uint8_t(from.port >> 8), uint8_t(from.port)};
    return keyed_blake2s_128(secret_.get(), {ByteView(from.addr.bytes.data(), from.addr.size()), ByteView(port, 2)});
}

Result<bool> CookieJar::mac2_valid(ByteView datagram, const Endpoint& from, Time now) {
    auto cookie = cookie_for(from, now);
    if (!cookie) return cookie.error();
    return keying::mac2_valid(datagram, *cookie);
}

}  // namespace avpn::keying
