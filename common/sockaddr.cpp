#include "common/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace avpn {

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& out) {
    std::memset(&out, 0, sizeof out);
    if (e.addr.family == Family::v4) {
        auto* a = reinterpret_cast<sockaddr_in*>(&out);
        a->sin_family = AF_INET;
        a->sin_port = htons(e.port);
        std::memcpy(&a->sin_addr, e.addr.bytes.data(), 4);
        return sizeof *a;
    }
    auto* a = reinterpret_cast<sockaddr_in6*>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(e.port);
    std::memcpy(&a->sin6_addr, e.addr.bytes.data(), 16);
    return sizeof *a;
}

std::optional<Endpoint> from_sockaddr(const sockaddr_storage& s) {
    Endpoint e;
    if (s.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&s);
        e.addr.family = Family::v4;
        std::memcpy(e.addr.bytes.data(), &a->sin_addr, 4);
        e.port = ntohs(a->sin_port);
        return e;
    }
    if (s.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&s);
        e.addr.family = Family::v6;
        std::memcpy(e.addr.bytes.data(), &a->sin6_addr, 16);
        e.port = ntohs(a->sin6_port);
        return e;
    }
    return std::nullopt;
}

}  // namespace avpn
