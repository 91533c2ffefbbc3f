// A hash that every site computes identically, on every build and platform:
// the first 8 bytes (big-endian) of SHA-256 over the text. Tunnel addresses,
// SPI slots and reqids are derived from it, so std::hash (whose values are an
// implementation detail) must never be used for them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace avpn::planner {

uint64_t stable_hash(std::string_view text);

// SHA-256 of the text.
std::array<uint8_t, 32> sha256(std::string_view text);

}  // namespace avpn::planner
