// The key life cycle of one XFRM peer, as a pure state machine: which ESP
// SAs the peer should have right now, when to start a handshake, when a
// new outbound SA may take over, how long an old inbound one lingers, and
// whether the peer is alive. No I/O and no clock of its own: the runtime
// feeds it events and the time, and carries out the actions it returns in
// order (an `apply` before the `send` that follows it, because the message
// tells the peer it may now use what the apply installed).
//
// Make-before-break (docs/xfrm-keying.md, "Rekeying"):
//   initiator                               responder
//   send initiation (new inbound SPI) ──▶   apply: + new inbound
//                                     ◀──   send response (its inbound SPI)
//   apply: + new inbound, new outbound
//          replaces the old; old inbound
//          lingers
//   send confirm ──────────────────────▶    apply: new outbound replaces the
//                                           old; old inbound lingers
// So neither side ever sends on an SA the other has not installed, and an
// old inbound SA stays until packets in flight on it have arrived. Between
// SAs the group's default-drop policy holds: nothing leaves in the clear.
//
// Who initiates: either side when it has no live session; by time, the
// side with the lower static key (the "leader") every `rekey_after`, the
// other only when the leader is `rekey_grace` late. When both initiate at
// once the leader's handshake wins: the leader ignores the other's
// initiation while its own is pending, the other drops its own and answers.
//
// Inbound SPIs: each side owns the SPIs it receives on and tells the peer in
// the handshake. A peer has two (the epoch bit of the group's SPI layout),
// alternating per session, so a new inbound SA never collides with the one
// it replaces; a rekey waits until the lingering SA of two sessions ago is
// gone.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace avpn::keying {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

struct SessionTimers {
    Seconds rekey_after{600};      // the leader's rotation period (docs: sized for 10,000 peers)
    Seconds rekey_grace{60};       // the follower rotates when the leader is this late
    Millis handshake_retry{5000};  // an unanswered initiation is sent again (new ephemeral)
    Seconds confirm_timeout{15};   // a responder drops a session never confirmed
    Seconds linger{20};            // an old inbound SA stays this long after a switch
    Seconds keepalive{10};         // an authenticated keepalive when nothing else was sent
    Seconds dead_after{35};        // no authenticated message for this long: the peer is down
};

// One direction's SA of a session: its SPI and the id of its key in the
// runtime's key store (keys never enter this machine or a plan).
struct SaHalf {
    uint32_t spi = 0;
    uint64_t key_id = 0;
    bool operator==(const SaHalf&) const = default;
};

// What the kernel should hold for this peer.
struct PeerSas {
    std::vector<SaHalf> inbound;  // current, a responder's unconfirmed next, a lingering old one
    std::optional<SaHalf> outbound;
    bool operator==(const PeerSas&) const = default;
};

// A session the handshake produced, as the runtime hands it in.
struct NewSession {
    uint64_t session_id = 0;  // the runtime's handle (its receiver index)
    SaHalf inbound;           // the SPI this side chose (from inbound_spi()) and its key
    SaHalf outbound;          // the SPI the peer chose and its key
};

enum class ActionKind {
    send_initiation,  // start a handshake offering `spi` as this side's inbound SPI
    apply,            // sas() changed: plan and apply them before the next action
    send_response,    // answer the initiation of session `session_id`
    send_confirm,     // confirm session `session_id` (initiator, after its apply)
    send_keepalive,   // an authenticated keepalive on session `session_id`
    drop_session,     // forget the transport keys of session `session_id`
    peer_up,
    peer_down,
};

struct Action {
    ActionKind kind;
    uint64_t session_id = 0;
    uint32_t spi = 0;
    bool operator==(const Action&) const = default;
};

class PeerSession {
public:
    // `leader`: this side's static public key is the lower one.
    // `spis`: the two inbound SPIs this side owns for this peer.
    PeerSession(SessionTimers timers, bool leader, std::array<uint32_t, 2> spis);

    // Timers: first handshake, rotation, retries, keepalives, lingering SAs,
    // liveness. Call at least every second. `may_initiate` false: an
    // initiation that is due waits (the site's budget for this tick is
    // spent, xfrm_keying.hpp) and is due again at the next tick.
    std::vector<Action> tick(Time now, bool may_initiate = true);
    // Whether tick(now) would send an initiation (a first handshake, a
    // retry, a rotation), as far as the state before the tick tells.
    bool initiation_due(Time now) const;

    // Whether to answer the peer's initiation at all, and the inbound SPI to
    // offer in the response if so. A leader ignores it while its own first
    // initiation may still be answered: the two crossed, and the peer
    // answers the leader's. Once that one went unanswered for a whole
    // handshake_retry (a retry went out), the leader gives way: its
    // initiations do not reach the peer while the peer's reach here (a NAT
    // in front of the peer that holds the contact's port for the leader's
    // dropped datagram maps the peer's own flow elsewhere;
    // kernel-registry-nat-xfrm deadlocked so, the leader retrying to the
    // contact forever and ignoring every initiation from the real mapping).
    // Not sooner: both sides answering each other's initiation would leave
    // both waiting for confirms that never come.
    bool accepts_initiation() const { return !(leader_ && initiating_ && initiating_->attempts < 2); }
    uint32_t inbound_spi_for_response() const;

    // A handshake completed: the peer's initiation was authenticated (this
    // side responds), or the response to this side's initiation was.
    std::vector<Action> on_initiation(const NewSession& s, Time now);
    std::vector<Action> on_response(const NewSession& s, Time now);
    // An authenticated confirm or keepalive on session `id`.
    std::vector<Action> on_transport(uint64_t id, Time now);
    // The kernel's expire of the SA with `spi` (soft: rotate now; hard: the
    // kernel deleted it, the session using it is gone).
    std::vector<Action> on_expire(uint32_t spi, bool hard, Time now);
    // This site's key file changed, or the operator asked: rotate now.
    void rekey_now() { rekey_requested_ = true; }

    const PeerSas& sas() const { return sas_; }
    bool up() const { return up_; }
    uint32_t epoch() const { return epoch_; }  // sessions established so far
    std::optional<Time> last_handshake() const { return last_handshake_; }
    // The last authenticated message from the peer (handshake, confirm, keepalive).
    std::optional<Time> last_received() const { return last_rx_; }
    std::optional<Time> next_rekey() const;
    bool initiating() const { return initiating_.has_value(); }
    // The session whose SAs carry traffic now (nullopt before the first).
    std::optional<uint64_t> current_session() const {
        return current_ ? std::optional<uint64_t>(current_->id) : std::nullopt;
    }
    bool rekey_requested() const { return rekey_requested_; }  // by an expiry or rekey_now, not done yet
    uint32_t initiations_unanswered() const { return initiating_ ? initiating_->attempts : 0; }

private:
    struct Live {
        uint64_t id = 0;
        SaHalf in, out;
        Time at{};
    };
    struct Lingering {
        SaHalf in;
        uint64_t id = 0;
        Time until{};
    };
    struct Pending {
        uint32_t spi = 0;
        Time sent_at{};  // the latest attempt
        uint32_t attempts = 0;
    };

    bool rotation_due(Time now) const;
    uint32_t free_spi() const;
    bool spi_in_use(uint32_t spi) const;
    void retire_current(Time now, std::vector<Action>& out);
    void established(Time now, std::vector<Action>& out);
    std::vector<Action> changed(std::vector<Action> out);

    SessionTimers t_;
    bool leader_;
    std::array<uint32_t, 2> spis_;
    std::optional<Live> current_;
    std::optional<Live> next_;  // responder: installed inbound, awaiting the confirm
    std::optional<Lingering> lingering_;
    std::optional<Pending> initiating_;
    std::optional<Time> last_rx_, last_tx_, last_handshake_, next_since_;
    bool rekey_requested_ = false;
    bool up_ = false;
    uint32_t epoch_ = 0;
    PeerSas sas_;
};

}  // namespace avpn::keying
