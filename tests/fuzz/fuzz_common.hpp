// What the fuzz targets of avpn's control datagrams (fuzz_keying,
// fuzz_registry) share: fixed keys, a fixed time and sender, and mac1 made
// valid so an input gets past the cheap check to the Noise code behind it
// (anyone can do that: mac1 is keyed by a public key).
#pragma once

#include <algorithm>

#include "plugins/keying/handshake_wire.hpp"

namespace avpn::fuzz {

inline keying::Key32 fixed_key(uint8_t first) {
    keying::Key32 k;
    for (size_t i = 0; i < 32; ++i) k[i] = uint8_t(first + i);
    return k;
}

inline const keying::Time kNow = keying::Time{} + std::chrono::hours(1);
inline const Endpoint kFrom{IpAddr::v4(0xc000020b), 51820};

// Rewrites the mac1 of a handshake-sized datagram as its receiver checks it.
inline void make_mac1_valid(keying::Bytes& d, const keying::Key32& receiver_public) {
    if (d.size() < 32) return;
    const keying::Key32 key = *keying::mac1_key(receiver_public);
    auto m = keying::keyed_blake2s_128(key, {keying::ByteView(d).first(d.size() - 32)});
    std::copy(m->begin(), m->end(), d.end() - 32);
}

}  // namespace avpn::fuzz
