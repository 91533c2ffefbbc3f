// A 32-bit id as the kernel tools print it (SPI, reqid, if_id): 0x%08x.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace avpn {

inline std::string hex32(uint32_t v) {
    char b[11];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}

}  // namespace avpn
