// avpn's XFRM key exchange, the API avpnd calls (docs/xfrm-keying.md):
// Noise IKpsk2 (noise.hpp) framed as WireGuard frames it
// (handshake_wire.hpp), with a responder's defences (handshake_guard.hpp),
// ending in a Session: the two sites' ESP keys and SPIs for one epoch.
//
//   initiator                                       responder
//   Initiator::start(local, tai64n_now(), now)
//                               -- initiation -->   Responder::consume(bytes, from, now)
//   Initiator::finish(reply)    <-- response ----   -> {reply, Session}
//     install inbound + outbound SAs                 install inbound SA only
//   make_confirm(session)       -- key confirm -->  check_confirm(session, bytes)
//                                                    switch outbound SA
//
// The same message, sent by either side later, is the session's
// authenticated keepalive (PeerSession's send_keepalive / on_transport).
//
// Under load the responder answers with a cookie reply instead
// (Initiator::take_cookie, then start again). The responder switches its
// outbound SA only on a valid key confirm: ESP goes to the kernel, so
// avpnd never sees WireGuard's "first data packet" key confirmation.
// Nothing here touches the kernel, a socket or a clock: `now` is passed in.
#pragma once

#include <functional>
#include <string>

#include "plugins/keying/handshake_guard.hpp"

namespace avpn::keying {

// What one side chooses for a handshake: its session index (receivers
// quote it back), the SPI its inbound SA will have, its key epoch.
struct LocalChoice {
    uint32_t index = 0;
    uint32_t inbound_spi = 0;
    uint32_t epoch = 0;
};

// A completed handshake. Transport keys are Noise's Split(); ESP keys are
// derived from them (esp_key below), one per direction.
struct Session {
    bool initiator = false;
    Key32 peer_static{};
    uint32_t local_index = 0, remote_index = 0;
    Secret32 send_key, receive_key;   // Noise transport keys
    uint32_t inbound_spi = 0;         // our inbound SA: the peer sends to it
    uint32_t outbound_spi = 0;        // the peer's inbound SA: we send to it
    uint32_t local_epoch = 0, peer_epoch = 0;
    SecretBytes esp_inbound_key, esp_outbound_key;
    uint64_t next_confirm = 0;                     // counter of the next confirm/keepalive we send
    std::optional<uint64_t> last_confirm_received;  // highest counter accepted from the peer
};

// ESP key for the SA with `spi` whose sender holds `transport_key`:
// the first `len` (1..64) bytes of out1 || out2 of
// Noise-HKDF(transport_key, "avpn esp" || SPI as 4 big-endian bytes, 2).
// 20 bytes for rfc4106(gcm(aes)) with a 128-bit key and 32-bit salt.
Result<SecretBytes> esp_key(const Key32& transport_key, uint32_t spi, size_t len);

// Key confirm: the initiator sends one (again, counter +1, if unanswered
// traffic says it was lost) after installing its SAs; the responder checks
// it and switches outbound. Later, from either side, it is a keepalive.
// Each side's counter is its own AEAD nonce under its own send key.
Result<Bytes> make_confirm(Session& session);
// The message's counter when it is for this session (receiver index), its
// tag verifies under the peer's key and its counter is above every one
// accepted before (a replayed keepalive cannot fake liveness); records it.
Result<uint64_t> check_confirm(Session& session, ByteView datagram);

struct InitiatorConfig {
    Key32 static_private{};
    Key32 responder_public{};
    std::string group;
    Key32 psk{};  // 32 zero bytes until issue 14's group key
    size_t esp_key_len = 20;
    ~InitiatorConfig() { crypto::wipe(static_private.data(), 32), crypto::wipe(psk.data(), 32); }
};

class Initiator {
public:
    static Result<Initiator> create(InitiatorConfig config);
    // A new initiation datagram (forgets any pending one). `timestamp` is
    // tai64n_now() in production; `ephemeral_private` only for tests.
    Result<Bytes> start(const LocalChoice& local, const Tai64n& timestamp, Time now,
                        std::optional<Key32> ephemeral_private = std::nullopt);
    // A cookie reply to the pending initiation: kept for 2 minutes and put
    // under mac2 of the next start(). The caller starts again.
    Status take_cookie(ByteView datagram, Time now);
    // The response to the pending initiation -> the session. One use.
    Result<Session> finish(ByteView datagram);
    bool pending() const { return pending_.has_value(); }

private:
    Initiator() = default;
    StaticKey static_;
    Key32 responder_public_{};
    Bytes prologue_;
    Secret32 psk_;
    size_t esp_key_len_ = 20;
    Key32 mac1_key_remote_{}, mac1_key_self_{}, cookie_key_remote_{};
    struct Pending {
        IkPsk2 hs;
        LocalChoice local;
        Mac16 mac1;
    };
    std::optional<Pending> pending_;
    std::optional<Mac16> cookie_;
    Time cookie_at_{};
};

struct ResponderConfig {
    Key32 static_private{};
    std::string group;
    Key32 psk{};  // 32 zero bytes until issue 14's group key
    size_t esp_key_len = 20;
    RateLimits rate;
    size_t under_load_threshold = 200;  // initiations per second before cookies are asked for
    ~ResponderConfig() { crypto::wipe(static_private.data(), 32), crypto::wipe(psk.data(), 32); }
};

// This side's choice for a handshake with the authenticated `peer_static`,
// or an Error that rejects the initiation with the caller's reason (a key
// that is not one of the group's peers; a leader answering nothing while its
// own initiation is pending, PeerSession::accepts_initiation()).
using ChooseLocal = std::function<Result<LocalChoice>(const Key32& peer_static)>;

struct ResponderOutcome {
    Bytes reply;                     // a response, or a cookie reply (then no session)
    std::optional<Session> session;  // install its inbound SA; outbound on check_confirm
};

class Responder {
public:
    static Result<Responder> create(ResponderConfig config, ChooseLocal choose);
    // One initiation from `from`. Order of checks, cheapest first: framing,
    // mac1, (under load) mac2 or a cookie reply, the source's rate limit,
    // then the Noise handshake, the peer, the timestamp. Every rejection is
    // an Error; nothing is sent for one.
    Result<ResponderOutcome> consume(ByteView datagram, const Endpoint& from, Time now,
                                     std::optional<Key32> ephemeral_private = std::nullopt);
    const Key32& static_public() const { return static_.public_key; }

private:
    Responder() = default;
    StaticKey static_;
    Bytes prologue_;
    Secret32 psk_;
    size_t esp_key_len_ = 20;
    ChooseLocal choose_;
    Key32 mac1_key_self_{}, cookie_key_self_{};
    TimestampGuard timestamps_;
    RateLimiter limiter_;
    LoadMeter load_{0};
    CookieJar cookies_;
};

}  // namespace avpn::keying
