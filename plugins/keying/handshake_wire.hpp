// The framing of avpn's control datagrams on an XFRM group's ESP-in-UDP
// socket, and the four keying messages (docs/xfrm-keying.md has every
// offset). Every datagram starts with the same 8-byte header:
//
//   0  4  non-ESP marker, 00 00 00 00 (RFC 3948: the kernel hands it to us)
//   4  1  type
//   5  3  magic "avp" (a datagram of another protocol that also starts with
//         the marker, IKE's on a shared port, is dropped without parsing)
//
// Type ranges, so issue 14's registry, punch and probe messages share this
// header: 0x00 never valid; 0x01-0x0f keying (this file); 0x10-0x2f
// registry, hole punching and probes (issue 14); 0x30-0xff reserved.
// Integers on the wire are big-endian. Parsers check the exact length,
// type and magic and nothing else: no public-key work happens here.
#pragma once

#include <optional>

#include "plugins/keying/noise.hpp"

namespace avpn::keying {

inline constexpr size_t kHeaderLen = 8;
inline constexpr uint8_t kMagic[3] = {'a', 'v', 'p'};

enum class MessageType : uint8_t {
    initiation = 0x01,
    response = 0x02,
    cookie_reply = 0x03,
    key_confirm = 0x04,
};
inline constexpr uint8_t kKeyingTypeFirst = 0x01, kKeyingTypeLast = 0x0f;
inline constexpr uint8_t kDiscoveryTypeFirst = 0x10, kDiscoveryTypeLast = 0x2f;  // issue 14

// The header's type byte, if `datagram` has avpn's marker and magic and a
// type in a defined range; the caller dispatches on it.
Result<uint8_t> peek_type(ByteView datagram);
void put_header(Bytes& out, uint8_t type);

// TAI64N (12 bytes: TAI seconds + 2^62, nanoseconds; big-endian), as
// WireGuard's initiation carries; compares as bytes.
using Tai64n = std::array<uint8_t, 12>;
Tai64n tai64n_from_unix(uint64_t unix_seconds, uint32_t nanoseconds);
Tai64n tai64n_now();  // wall clock, rounded down to 2^24 ns as WireGuard does

// Encrypted payloads of the two Noise messages.
struct InitiationPayload {
    Tai64n timestamp{};
    uint32_t inbound_spi = 0;  // the SPI the responder must send to
    uint32_t epoch = 0;
};
struct ResponsePayload {
    uint32_t inbound_spi = 0;  // the SPI the initiator must send to
    uint32_t epoch = 0;
};
inline constexpr size_t kInitiationPayloadLen = 20, kResponsePayloadLen = 8;
Bytes encode(const InitiationPayload& p);
Bytes encode(const ResponsePayload& p);
Result<InitiationPayload> decode_initiation_payload(ByteView b);
Result<ResponsePayload> decode_response_payload(ByteView b);

// Whole datagrams.
inline constexpr size_t kInitiationLen = kHeaderLen + 4 + noise_msg1_len(kInitiationPayloadLen) + 32;  // 160
inline constexpr size_t kResponseLen = kHeaderLen + 8 + noise_msg2_len(kResponsePayloadLen) + 32;      // 104
inline constexpr size_t kCookieReplyLen = kHeaderLen + 4 + 12 + 16 + kTagLen;                          // 56
inline constexpr size_t kKeyConfirmLen = kHeaderLen + 4 + 8 + kTagLen;                                 // 36

struct Initiation {
    uint32_t sender = 0;
    Bytes noise;  // e || enc(s) || enc(payload)
};
struct Response {
    uint32_t sender = 0, receiver = 0;
    Bytes noise;  // e || enc(payload)
};
struct CookieReply {
    uint32_t receiver = 0;
    std::array<uint8_t, 12> nonce{};
    Bytes sealed_cookie;  // 16 + tag
};
struct KeyConfirm {
    uint32_t receiver = 0;
    uint64_t counter = 0;
    Mac16 tag{};
};

Result<Initiation> parse_initiation(ByteView datagram);
Result<Response> parse_response(ByteView datagram);
Result<CookieReply> parse_cookie_reply(ByteView datagram);
Result<KeyConfirm> parse_key_confirm(ByteView datagram);

// mac1 and mac2 are the last 32 bytes of an initiation or a response.
// mac1 = MAC(BLAKE2s("mac1----" || receiver's static public), bytes before mac1)
// mac2 = MAC(cookie, bytes before mac2), or zeros without a cookie;
// MAC is keyed BLAKE2s with a 16-byte output, as WireGuard.
Result<Key32> mac1_key(const Key32& receiver_static_public);
Result<Key32> cookie_key(const Key32& receiver_static_public);  // "cookie--"

Result<Bytes> encode_initiation(uint32_t sender, ByteView noise, const Key32& mac1_key,
                                const std::optional<Mac16>& cookie);
Result<Bytes> encode_response(uint32_t sender, uint32_t receiver, ByteView noise, const Key32& mac1_key,
                              const std::optional<Mac16>& cookie);
// Checks of a parsed initiation's or response's datagram (length already checked).
bool mac1_valid(ByteView datagram, const Key32& mac1_key);
bool mac2_valid(ByteView datagram, const Mac16& cookie);
Mac16 mac1_of(ByteView datagram);

// Cookie reply: the cookie sealed with ChaCha20-Poly1305 under
// cookie_key, a random 96-bit nonce, AD = mac1 of the message answered.
// (WireGuard uses XChaCha20-Poly1305 with a 192-bit nonce; OpenSSL has no
// XChaCha, and 96 random bits keep collisions under one key negligible for
// the few replies a responder sends between its restarts.)
Result<Bytes> encode_cookie_reply(uint32_t receiver, const Mac16& cookie, const Key32& cookie_key,
                                  const Mac16& answered_mac1, std::optional<std::array<uint8_t, 12>> nonce = {});
Result<Mac16> open_cookie_reply(const CookieReply& r, const Key32& cookie_key, const Mac16& answered_mac1);

// Key confirm: tag = ChaCha20-Poly1305(key, Noise nonce(counter),
// AD = the 20 bytes before the tag, empty plaintext).
Result<Bytes> encode_key_confirm(uint32_t receiver, uint64_t counter, const Key32& key);
Status check_key_confirm(ByteView datagram, const KeyConfirm& parsed, const Key32& key);

}  // namespace avpn::keying
