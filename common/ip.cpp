#include "common/ip.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace avpn {

namespace {

std::optional<unsigned> parse_uint(std::string_view s, unsigned max) {
    unsigned v = 0;
    if (s.empty() || s.size() > 10) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddr a;
    if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
        a.family = Family::v4;
        return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
        a.family = Family::v6;
        return a;
    }
    return std::nullopt;
}

IpAddr IpAddr::v4(uint32_t h) {
    IpAddr a;
    a.family = Family::v4;
    a.bytes[0] = uint8_t(h >> 24);
    a.bytes[1] = uint8_t(h >> 16);
    a.bytes[2] = uint8_t(h >> 8);
    a.bytes[3] = uint8_t(h);
    return a;
}

uint32_t IpAddr::v4_host_order() const {
    return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(af(), bytes.data(), buf, sizeof buf);
    return buf;
}

int IpAddr::af() const { return family == Family::v4 ? AF_INET : AF_INET6; }

bool IpAddr::is_unspecified() const {
    for (size_t i = 0; i < size(); ++i)
        if (bytes[i]) return false;
    return true;
}

Prefix Prefix::make(const IpAddr& a, uint8_t len) {
    Prefix p{a, len};
    for (int bit = len; bit < a.max_len(); ++bit)
        p.addr.bytes[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
    return p;
}

Prefix Prefix::host(const IpAddr& a) { return Prefix{a, uint8_t(a.max_len())}; }

std::optional<Prefix> Prefix::parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    if (slash == std::string_view::npos) return host(*addr);
    auto len = parse_uint(text.substr(slash + 1), unsigned(addr->max_len()));
    if (!len) return std::nullopt;
    Prefix p = make(*addr, uint8_t(*len));
    if (p.addr != *addr) return std::nullopt;  // host bits set
    return p;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

bool Prefix::contains(const IpAddr& a) const {
    if (a.family != addr.family) return false;
    return make(a, len).addr == addr;
}

bool Prefix::contains(const Prefix& p) const {
    return p.family() == family() && p.len >= len && contains(p.addr);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text, std::optional<uint16_t> default_port) {
    std::string_view host = text, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
            if (port.empty()) return std::nullopt;
        }
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos &&
                                              text.find(':') == colon) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty()) return std::nullopt;
    }
    auto a = IpAddr::parse(host);
    if (!a) return std::nullopt;
    Endpoint e{*a, 0};
    if (!port.empty()) {
        auto p = parse_uint(port, 65535);
        if (!p || *p == 0) return std::nullopt;
        e.port = uint16_t(*p);
    } else if (default_port) {
        e.port = *default_port;
    } else {
        return std::nullopt;
    }
    return e;
}

std::string Endpoint::str() const {
    if (addr.family == Family::v6) return "[" + addr.str() + "]:" + std::to_string(port);
    return addr.str() + ":" + std::to_string(port);
}

}  // namespace avpn
