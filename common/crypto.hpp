// Key handling for site keys (X25519, base64 as WireGuard writes them) and the
// XFRM key derivation. OpenSSL's libcrypto does the math; this file only
// adapts it to avpn's types and error values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace avpn::crypto {

using Key32 = std::array<uint8_t, 32>;

std::string base64_encode(const uint8_t* data, size_t len);
Result<Key32> base64_decode_key(std::string_view text);  // exactly 32 bytes

Result<Key32> generate_private_key();  // clamped X25519 scalar
Result<Key32> public_key(const Key32& private_key);
Result<Key32> shared_secret(const Key32& private_key, const Key32& peer_public);

// HKDF-SHA256 (RFC 5869).
Result<std::vector<uint8_t>> hkdf_sha256(const std::vector<uint8_t>& ikm, std::string_view salt,
                                         std::string_view info, size_t out_len);

// Overwrites memory the compiler may not elide (key buffers after use).
void wipe(void* p, size_t n);

}  // namespace avpn::crypto
