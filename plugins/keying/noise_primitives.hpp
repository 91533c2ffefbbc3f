// The primitives of Noise_*_25519_ChaChaPoly_BLAKE2s (Noise Protocol
// Framework rev 34, sections 4 and 12) and of WireGuard's MAC/cookie fields,
// each a thin adapter over OpenSSL 3: EVP "BLAKE2S-256", HMAC over it,
// the BLAKE2SMAC MAC (keyed BLAKE2s with a chosen output length) and
// EVP ChaCha20-Poly1305. Nothing here is invented: the handshake code
// (noise.hpp) composes these exactly as the spec says.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"

namespace avpn::keying {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using Key32 = crypto::Key32;
using Mac16 = std::array<uint8_t, 16>;

inline constexpr size_t kHashLen = 32;  // BLAKE2s-256: HASHLEN
inline constexpr size_t kTagLen = 16;   // Poly1305 tag

// A 32-byte secret that is wiped when it goes (Noise's ck, k, private keys,
// transport keys). Copies are wiped too; a moved-from one keeps its bytes
// until its own destructor, which wipes them.
class Secret32 {
public:
    Secret32() = default;
    explicit Secret32(const Key32& k) : b_(k) {}
    Secret32(const Secret32&) = default;
    Secret32& operator=(const Secret32&) = default;
    ~Secret32() { crypto::wipe(b_.data(), b_.size()); }
    const Key32& get() const { return b_; }
    Key32& get() { return b_; }
    const uint8_t* data() const { return b_.data(); }
    bool operator==(const Secret32& o) const { return b_ == o.b_; }

private:
    Key32 b_{};
};

// Bytes that are wiped when they go (ESP keys, decrypted payloads).
class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(Bytes b) : b_(std::move(b)) {}
    SecretBytes(const SecretBytes&) = default;
    SecretBytes(SecretBytes&&) = default;
    SecretBytes& operator=(const SecretBytes& o) { if (this != &o) { wipe(); b_ = o.b_; } return *this; }
    SecretBytes& operator=(SecretBytes&& o) noexcept { if (this != &o) { wipe(); b_ = std::move(o.b_); } return *this; }
    ~SecretBytes() { wipe(); }
    const Bytes& get() const { return b_; }
    size_t size() const { return b_.size(); }

private:
    void wipe() { if (!b_.empty()) crypto::wipe(b_.data(), b_.size()); }
    Bytes b_;
};

// BLAKE2s-256 of the concatenation of `parts`.
Result<Key32> blake2s(std::initializer_list<ByteView> parts);

// HMAC-BLAKE2s (RFC 2104, block length 64), Noise's HMAC-HASH.
Result<Key32> hmac_blake2s(const Key32& key, std::initializer_list<ByteView> parts);

// Noise's HKDF(chaining_key, input_key_material, n) for n = 2 or 3
// (section 4.3): temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
// out_i = HMAC(temp, out_{i-1} || i).
Result<std::vector<Secret32>> noise_hkdf(const Key32& chaining_key, ByteView ikm, int outputs);

// Keyed BLAKE2s with a 16-byte output: WireGuard's MAC(key, input), used for
// mac1, mac2 and the cookie. The key is 16 or 32 bytes.
Result<Mac16> keyed_blake2s_128(ByteView key, std::initializer_list<ByteView> parts);

// ChaCha20-Poly1305 (RFC 8439) with a 96-bit nonce given as is.
Result<Bytes> aead_seal(const Key32& key, const std::array<uint8_t, 12>& nonce, ByteView ad,
                        ByteView plaintext);  // ciphertext || tag
Result<Bytes> aead_open(const Key32& key, const std::array<uint8_t, 12>& nonce, ByteView ad,
                        ByteView sealed);

// Noise's ChaChaPoly nonce: 32 bits of zeros, then n as 64-bit little-endian.
std::array<uint8_t, 12> noise_nonce(uint64_t n);

// Constant-time equality of two equal-length MACs.
bool equal_ct(ByteView a, ByteView b);

inline ByteView view(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace avpn::keying
