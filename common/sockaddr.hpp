// Endpoint <-> the socket API's address structures, for every socket avpn
// opens (the ESP-in-UDP socket, the registry's, the shared WireGuard port).
#pragma once

#include <sys/socket.h>

#include <optional>

#include "common/ip.hpp"

namespace avpn {

// Fills `out` for `e` and returns the length to pass with it.
socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& out);
// nullopt for a family other than AF_INET/AF_INET6.
std::optional<Endpoint> from_sockaddr(const sockaddr_storage& s);

}  // namespace avpn
