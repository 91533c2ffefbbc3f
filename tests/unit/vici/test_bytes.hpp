// Byte-vector helpers shared by the codec tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace avpn::vici::test {

// Wire bytes written as small integers (and chars): B({3, 1, 'k', 0, 0}).
inline std::vector<uint8_t> B(std::initializer_list<int> v) {
    std::vector<uint8_t> out;
    for (int b : v) out.push_back(uint8_t(b));
    return out;
}

inline bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace avpn::vici::test
