#include "plugins/keying/control_frame.hpp"

#include <algorithm>

namespace avpn::keying {

Status check_type(ByteView d, uint8_t type, const char* what) {
    auto t = peek_type(d);
    if (!t) return malformed(what, t.error().why);
    if (*t != type) return malformed(what, "type " + std::to_string(*t) + " is another message");
    return {};
}

Status check_frame(ByteView d, uint8_t type, size_t len, const char* what) {
    if (auto st = check_type(d, type, what); !st) return st;
    if (d.size() != len) return malformed(what, std::to_string(d.size()) + " bytes, expected " + std::to_string(len));
    return {};
}

Result<Bytes> frame_handshake(uint8_t type, std::initializer_list<uint32_t> ids, ByteView noise,
                              const Key32& mac1_key, const std::optional<Mac16>& cookie) {
    Bytes msg;
    msg.reserve(kHeaderLen + 4 * ids.size() + noise.size() + 32);
    put_header(msg, type);
    for (uint32_t id : ids) put_u32(msg, id);
    msg.insert(msg.end(), noise.begin(), noise.end());
    auto m1 = keyed_blake2s_128(mac1_key, {msg});
    if (!m1) return m1.error();
    msg.insert(msg.end(), m1->begin(), m1->end());
    Mac16 m2{};
    if (cookie) {
        auto m = keyed_blake2s_128(*cookie, {msg});
        if (!m) return m.error();
        m2 = *m;
    }
    msg.insert(msg.end(), m2.begin(), m2.end());
    return msg;
}

Result<Initiation> parse_initiation_frame(ByteView d, uint8_t type, size_t len, const char* what) {
    if (auto st = check_frame(d, type, len, what); !st) return st.error();
    return Initiation{get_u32(d, 8), Bytes(d.begin() + 12, d.end() - 32)};
}

Result<Response> parse_response_frame(ByteView d, uint8_t type, size_t len, const char* what) {
    if (auto st = check_frame(d, type, len, what); !st) return st.error();
    return Response{get_u32(d, 8), get_u32(d, 12), Bytes(d.begin() + 16, d.end() - 32)};
}

Result<CookieReply> parse_cookie_reply_frame(ByteView d, uint8_t type, const char* what) {
    if (auto st = check_frame(d, type, kCookieReplyLen, what); !st) return st.error();
    CookieReply r;
    r.receiver = get_u32(d, 8);
    std::copy_n(d.begin() + 12, 12, r.nonce.begin());
    r.sealed_cookie.assign(d.begin() + 24, d.end());
    return r;
}

}  // namespace avpn::keying
