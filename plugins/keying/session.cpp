// The parts of handshake.hpp that act on a completed Session: ESP key
// derivation and the key confirm.
#include "plugins/keying/handshake.hpp"

#include <algorithm>

namespace avpn::keying {

Result<SecretBytes> esp_key(const Key32& transport_key, uint32_t spi, size_t len) {
    if (len == 0 || len > 2 * kHashLen) return Error{"ESP key", "", "length must be 1..64 bytes"};
    Bytes ikm(view("avpn esp").begin(), view("avpn esp").end());
    for (int i = 3; i >= 0; --i) ikm.push_back(uint8_t(spi >> (8 * i)));
    auto out = noise_hkdf(transport_key, ikm, 2);
    if (!out) return out.error();
    Bytes key(len);
    const size_t first = std::min(len, kHashLen);
    std::copy_n((*out)[0].data(), first, key.begin());
    std::copy_n((*out)[1].data(), len - first, key.begin() + first);
    return SecretBytes(std::move(key));
}

Result<Bytes> make_confirm(Session& s) {
    // The send key is otherwise only HKDF input for the ESP key, and each
    // counter is used once: the AEAD nonce never repeats under a key.
    if (s.next_confirm == UINT64_MAX) return Error{"key confirm", "", "counter exhausted: rekey"};
    return encode_key_confirm(s.remote_index, s.next_confirm++, s.send_key.get());
}

Result<uint64_t> check_confirm(Session& s, ByteView datagram) {
    auto k = parse_key_confirm(datagram);
    if (!k) return k.error();
    if (k->receiver != s.local_index) return Error{"key confirm", "", "for another session index"};
    if (auto st = check_key_confirm(datagram, *k, s.receive_key.get()); !st) return st.error();
    if (s.last_confirm_received && k->counter <= *s.last_confirm_received)
        return Error{"key confirm", "", "counter not above the last one accepted (replayed?)"};
    s.last_confirm_received = k->counter;
    return k->counter;
}

}  // namespace avpn::keying
