#include "plugins/keying/handshake_wire.hpp"

#include "plugins/keying/control_frame.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace avpn::keying {

namespace {

Result<Key32> labelled_key(std::string_view label, const Key32& pub) { return blake2s({view(label), pub}); }

}  // namespace

Result<uint8_t> peek_type(ByteView d) {
    if (d.size() < kHeaderLen) return malformed("control datagram", "shorter than the 8-byte header");
    if (d[0] || d[1] || d[2] || d[3]) return malformed("control datagram", "no non-ESP marker");
    if (!std::equal(d.begin() + 5, d.begin() + 8, std::begin(kMagic)))
        return malformed("control datagram", "not avpn's magic");
    const uint8_t t = d[4];
    if (t < kKeyingTypeFirst || t > kDiscoveryTypeLast)
        return malformed("control datagram", "type " + std::to_string(t) + " is reserved");
    return t;
}

void put_header(Bytes& out, uint8_t type) {
    out.insert(out.end(), {0, 0, 0, 0, type, kMagic[0], kMagic[1], kMagic[2]});
}

Tai64n tai64n_from_unix(uint64_t unix_seconds, uint32_t nanoseconds) {
    // TAI64 label 2^62 + 10 + seconds, as both WireGuard implementations
    // write it; only the order matters here.
    const uint64_t label = 0x400000000000000aULL + unix_seconds;
    Tai64n t{};
    for (int i = 0; i < 8; ++i) t[size_t(i)] = uint8_t(label >> (8 * (7 - i)));
    for (int i = 0; i < 4; ++i) t[size_t(8 + i)] = uint8_t(nanoseconds >> (8 * (3 - i)));
    return t;
}

Tai64n tai64n_now() {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
    // Rounded down to 2^24 ns (~16.8 ms) as WireGuard does, so the value
    // does not leak a precise clock; initiations are rarer than that.
    const uint64_t sec = uint64_t(ns / 1000000000);
    const uint32_t nsec = uint32_t(ns % 1000000000) & ~((1u << 24) - 1);
    return tai64n_from_unix(sec, nsec);
}

Bytes encode(const InitiationPayload& p) {
    Bytes b(p.timestamp.begin(), p.timestamp.end());
    put_u32(b, p.inbound_spi);
    put_u32(b, p.epoch);
    return b;
}

Bytes encode(const ResponsePayload& p) {
    Bytes b;
    put_u32(b, p.inbound_spi);
    put_u32(b, p.epoch);
    return b;
}

Result<InitiationPayload> decode_initiation_payload(ByteView b) {
    if (b.size() != kInitiationPayloadLen) return malformed("initiation payload", "wrong length");
    InitiationPayload p;
    std::copy_n(b.begin(), 12, p.timestamp.begin());
    p.inbound_spi = get_u32(b, 12);
    p.epoch = get_u32(b, 16);
    if (p.inbound_spi == 0) return malformed("initiation payload", "SPI 0 is not an ESP SPI");
    return p;
}

Result<ResponsePayload> decode_response_payload(ByteView b) {
    if (b.size() != kResponsePayloadLen) return malformed("response payload", "wrong length");
    ResponsePayload p{get_u32(b, 0), get_u32(b, 4)};
    if (p.inbound_spi == 0) return malformed("response payload", "SPI 0 is not an ESP SPI");
    return p;
}

Result<Initiation> parse_initiation(ByteView d) {
    return parse_initiation_frame(d, uint8_t(MessageType::initiation), kInitiationLen, "initiation");
}

Result<Response> parse_response(ByteView d) {
    return parse_response_frame(d, uint8_t(MessageType::response), kResponseLen, "response");
}

Result<CookieReply> parse_cookie_reply(ByteView d) {
    return parse_cookie_reply_frame(d, uint8_t(MessageType::cookie_reply), "cookie reply");
}

Result<KeyConfirm> parse_key_confirm(ByteView d) {
    if (auto st = check_frame(d, uint8_t(MessageType::key_confirm), kKeyConfirmLen, "key confirm"); !st) return st.error();
    KeyConfirm k;
    k.receiver = get_u32(d, 8);
    k.counter = get_u64(d, 12);
    std::copy_n(d.begin() + 20, 16, k.tag.begin());
    return k;
}

Result<Key32> mac1_key(const Key32& pub) { return labelled_key("mac1----", pub); }
Result<Key32> cookie_key(const Key32& pub) { return labelled_key("cookie--", pub); }

Result<Bytes> encode_initiation(uint32_t sender, ByteView noise, const Key32& key, const std::optional<Mac16>& cookie) {
    if (noise.size() != noise_msg1_len(kInitiationPayloadLen)) return malformed("initiation", "Noise part has the wrong length");
    return frame_handshake(uint8_t(MessageType::initiation), {sender}, noise, key, cookie);
}

Result<Bytes> encode_response(uint32_t sender, uint32_t receiver, ByteView noise, const Key32& key,
                              const std::optional<Mac16>& cookie) {
    if (noise.size() != noise_msg2_len(kResponsePayloadLen)) return malformed("response", "Noise part has the wrong length");
    return frame_handshake(uint8_t(MessageType::response), {sender, receiver}, noise, key, cookie);
}

bool mac1_valid(ByteView d, const Key32& key) {
    if (d.size() < 32) return false;
    auto m = keyed_blake2s_128(key, {d.first(d.size() - 32)});
    return m && equal_ct(*m, d.subspan(d.size() - 32, 16));
}

bool mac2_valid(ByteView d, const Mac16& cookie) {
    if (d.size() < 32) return false;
    auto m = keyed_blake2s_128(cookie, {d.first(d.size() - 16)});
    return m && equal_ct(*m, d.last(16));
}

Mac16 mac1_of(ByteView d) {
    Mac16 m{};
    if (d.size() >= 32) std::copy_n(d.end() - 32, 16, m.begin());
    return m;
}

Result<Bytes> encode_cookie_reply(uint32_t receiver, const Mac16& cookie, const Key32& key, const Mac16& answered_mac1,
                                  std::optional<std::array<uint8_t, 12>> nonce) {
    std::array<uint8_t, 12> n{};
    if (nonce) n = *nonce;
    else if (RAND_bytes(n.data(), int(n.size())) != 1) return malformed("cookie reply", "no random nonce");
    auto sealed = aead_seal(key, n, answered_mac1, cookie);
    if (!sealed) return sealed.error();
    Bytes msg;
    msg.reserve(kCookieReplyLen);
    put_header(msg, uint8_t(MessageType::cookie_reply));
    put_u32(msg, receiver);
    msg.insert(msg.end(), n.begin(), n.end());
    msg.insert(msg.end(), sealed->begin(), sealed->end());
    return msg;
}

Result<Mac16> open_cookie_reply(const CookieReply& r, const Key32& key, const Mac16& answered_mac1) {
    auto c = aead_open(key, r.nonce, answered_mac1, r.sealed_cookie);
    if (!c) return Error{"cookie reply", "", "does not decrypt for our last initiation"};
    Mac16 cookie;
    std::copy_n(c->begin(), 16, cookie.begin());
    return cookie;
}

Result<Bytes> encode_key_confirm(uint32_t receiver, uint64_t counter, const Key32& key) {
    Bytes msg;
    msg.reserve(kKeyConfirmLen);
    put_header(msg, uint8_t(MessageType::key_confirm));
    put_u32(msg, receiver);
    put_u64(msg, counter);
    auto tag = aead_seal(key, noise_nonce(counter), msg, {});
    if (!tag) return tag.error();
    msg.insert(msg.end(), tag->begin(), tag->end());
    return msg;
}

Status check_key_confirm(ByteView d, const KeyConfirm& k, const Key32& key) {
    if (d.size() != kKeyConfirmLen) return malformed("key confirm", "wrong length");
    auto ok = aead_open(key, noise_nonce(k.counter), d.first(20), d.subspan(20));
    if (!ok) return Error{"key confirm", "", "tag does not verify under the session's key"};
    return {};
}

}  // namespace avpn::keying
