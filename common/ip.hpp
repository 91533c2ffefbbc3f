// IP addresses, prefixes and UDP endpoints: the vocabulary every layer shares.
// Values are canonical (a Prefix never has host bits set) and totally ordered,
// so sorted containers of them diff cleanly.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace avpn {

enum class Family : uint8_t { v4 = 4, v6 = 6 };

struct IpAddr {
    Family family = Family::v4;
    std::array<uint8_t, 16> bytes{};  // v4 uses the first 4

    static std::optional<IpAddr> parse(std::string_view text);
    static IpAddr v4(uint32_t host_order);
    std::string str() const;
    int af() const;                 // AF_INET / AF_INET6
    size_t size() const { return family == Family::v4 ? 4 : 16; }
    int max_len() const { return family == Family::v4 ? 32 : 128; }
    uint32_t v4_host_order() const;  // only for v4
    bool is_unspecified() const;

    // Same order as comparing family, then the bytes lexicographically, but
    // as two 64-bit words: plans and dumps sort hundreds of thousands of
    // addresses, and a memcmp call per comparison dominated that.
    std::strong_ordering operator<=>(const IpAddr& o) const {
        if (family != o.family) return family <=> o.family;
        if (auto c = word(0) <=> o.word(0); c != 0) return c;
        return word(1) <=> o.word(1);
    }
    bool operator==(const IpAddr& o) const {
        return family == o.family && word(0) == o.word(0) && word(1) == o.word(1);
    }

private:
    uint64_t word(size_t i) const {  // bytes[8i .. 8i+7] as a big-endian number
        uint64_t w;
        std::memcpy(&w, bytes.data() + 8 * i, sizeof w);
        if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
        return w;
    }
};

struct Prefix {
    IpAddr addr;  // network address: host bits are always zero
    uint8_t len = 0;

    // Accepts "a.b.c.d/n", "x::/n"; a bare address becomes a host prefix.
    // Host bits set ("10.0.0.1/24") is rejected: it is almost always a typo.
    static std::optional<Prefix> parse(std::string_view text);
    static Prefix host(const IpAddr& a);
    static Prefix make(const IpAddr& a, uint8_t len);  // masks host bits
    std::string str() const;

    bool contains(const IpAddr& a) const;
    bool contains(const Prefix& p) const;  // p inside (or equal to) this
    bool overlaps(const Prefix& p) const { return contains(p) || p.contains(*this); }
    Family family() const { return addr.family; }
    bool is_default() const { return len == 0; }

    auto operator<=>(const Prefix&) const = default;
};

struct Endpoint {
    IpAddr addr;
    uint16_t port = 0;

    // "192.0.2.1:51820" or "[2001:db8::1]:51820"; default_port when omitted.
    static std::optional<Endpoint> parse(std::string_view text,
                                         std::optional<uint16_t> default_port = std::nullopt);
    std::string str() const;

    auto operator<=>(const Endpoint&) const = default;
};

}  // namespace avpn
