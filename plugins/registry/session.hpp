// A registry session after its handshake: Noise transport messages with a
// 64-bit counter as the AEAD nonce and a sliding replay window, as
// WireGuard's data messages (whitepaper 5.4.6, the window of RFC 6479).
// Both the registry and the site hold one per session; nothing here does
// I/O or reads a clock.
#pragma once

#include <bitset>
#include <cerrno>
#include <chrono>

#include "plugins/keying/noise_primitives.hpp"
#include "plugins/registry/wire.hpp"

namespace avpn::registry {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

// Counters accepted at most once; anything 256 or more below the highest
// accepted is too old. 32 bytes per session: registry traffic is a message
// every few seconds, so deep reordering never happens.
class ReplayWindow {
public:
    static constexpr uint64_t kSize = 256;
    bool fresh(uint64_t counter) const {
        if (!any_) return true;
        if (counter > highest_) return true;
        const uint64_t back = highest_ - counter;
        return back < kSize && !bits_[back];
    }
    void accept(uint64_t counter) {
        if (!any_ || counter > highest_) {
            const uint64_t shift = any_ ? counter - highest_ : kSize;
            bits_ = shift >= kSize ? std::bitset<kSize>{} : bits_ << shift;
            highest_ = counter;
            any_ = true;
            bits_.set(0);
        } else {
            bits_.set(highest_ - counter);
        }
    }

private:
    std::bitset<kSize> bits_;
    uint64_t highest_ = 0;
    bool any_ = false;
};

// Error codes of TransportSession::open, for the counters.
inline constexpr int kBadTag = EBADMSG;
inline constexpr int kReplayed = EALREADY;

struct TransportSession {
    uint32_t local_index = 0, remote_index = 0;
    keying::Secret32 send_key, receive_key;
    uint64_t next_send = 0;
    ReplayWindow window;
    Time established{};

    // A transport datagram carrying `body` to the peer (its index).
    Result<Bytes> seal(ByteView body);
    // The body of `datagram` (parsed as `t`, for this session's index):
    // the window is checked before the AEAD and updated only after it
    // verifies, so a forged counter cannot move it.
    Result<Bytes> open(ByteView datagram, const Transport& t);
};

// WireGuard's limits (whitepaper 6.1): REJECT_AFTER_MESSAGES.
inline constexpr uint64_t kRejectAfterMessages = (uint64_t(1) << 60);

}  // namespace avpn::registry
