// The frame every avpn control datagram on a tunnel port shares, whichever
// protocol it belongs to (the XFRM key exchange here, the registry in
// plugins/registry): the 8-byte header, big-endian fields, and for the
// handshake messages WireGuard's layout of sender/receiver ids, the Noise
// part and mac1/mac2. Each protocol only names its type bytes and lengths.
#pragma once

#include <optional>

#include "plugins/keying/handshake_wire.hpp"

namespace avpn::keying {

inline void put_u16(Bytes& out, uint16_t v) { out.push_back(uint8_t(v >> 8)), out.push_back(uint8_t(v)); }
inline void put_u32(Bytes& out, uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}
inline void put_u64(Bytes& out, uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
}
inline uint16_t get_u16(ByteView b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }
inline uint32_t get_u32(ByteView b, size_t at) {
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}
inline uint64_t get_u64(ByteView b, size_t at) { return uint64_t(get_u32(b, at)) << 32 | get_u32(b, at + 4); }

inline Error malformed(const char* what, std::string why) { return Error{what, "", std::move(why)}; }

// Header and type; the length rule is the caller's.
Status check_type(ByteView datagram, uint8_t type, const char* what);
// Header, type and exact length: the whole of a fixed-size parser's cheap check.
Status check_frame(ByteView datagram, uint8_t type, size_t len, const char* what);

// Header, then `ids` (sender, or sender and receiver), the Noise part,
// mac1 under `mac1_key` and mac2 under the cookie (zeros without one).
Result<Bytes> frame_handshake(uint8_t type, std::initializer_list<uint32_t> ids, ByteView noise,
                              const Key32& mac1_key, const std::optional<Mac16>& cookie);

// Parsers of the shared layouts, for a protocol's type byte and length.
Result<Initiation> parse_initiation_frame(ByteView datagram, uint8_t type, size_t len, const char* what);
Result<Response> parse_response_frame(ByteView datagram, uint8_t type, size_t len, const char* what);
Result<CookieReply> parse_cookie_reply_frame(ByteView datagram, uint8_t type, const char* what);

}  // namespace avpn::keying
