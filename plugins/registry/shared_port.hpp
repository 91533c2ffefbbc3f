// avpn's control datagrams on a UDP port that another socket owns: the
// WireGuard listen port, held by the kernel module or by wireguard-go. The
// registry must observe the NAT mapping of the tunnel's own port
// (../shared/design/nat-traversal.md, "The one hard rule"), so registry and
// punch datagrams must leave from that port and their answers be read
// there, without taking the port from WireGuard.
//
// How (as NetBird's sharedsock and wireguard-tools' NAT hole-punching
// example): one raw socket per family.
// - Sending: the raw socket carries a hand-built UDP header whose source
//   port is the WireGuard port; the kernel adds the IP header and picks the
//   source address by route, as for WireGuard's own packets. IPv4's UDP
//   checksum is 0 (RFC 768: none; the payload is authenticated anyway),
//   IPv6's is filled in by the kernel (IPV6_CHECKSUM).
// - Receiving: a raw socket sees a copy of every UDP datagram to this
//   host; a classic BPF filter keeps only unfragmented ones to the port that
//   start with avpn's 8-byte header (the non-ESP marker, a type byte and the
//   magic "avp"). The WireGuard socket gets the same datagram and drops it:
//   its first byte is 0, no WireGuard message type.
// Needs CAP_NET_RAW.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace avpn::registry {

struct SharedPortDatagram {
    Endpoint from;
    std::vector<uint8_t> bytes;  // the UDP payload, avpn's header included
};

class SharedPort {
public:
    // Raw sockets of `family` for the UDP port `port` (bound by someone
    // else, or not yet), non-blocking and close-on-exec.
    static Result<SharedPort> open(Family family, uint16_t port);


    int fd() const { return fd_.get(); }  // readable: receive() has a datagram
    Family family() const { return family_; }
    uint16_t port() const { return port_; }

    // The fwmark of what it sends: the WireGuard device's own, so that
    // avpn's datagrams take the route WireGuard's packets take (a full
    // tunnel's bypass, the active uplink's table). Needs CAP_NET_ADMIN;
    // a no-op when unchanged.
    Status set_mark(uint32_t mark);
    uint32_t mark() const { return mark_; }

    // The next avpn datagram to the port, nullopt when none waits.
    Result<std::optional<SharedPortDatagram>> receive();
    // `payload` to `to` (of this family) from the shared port; with
    // `hop_limit`, as its IP TTL (IPv6 hop limit) instead of the default.
    Status send(const Endpoint& to, const std::vector<uint8_t>& payload, std::optional<int> hop_limit = std::nullopt);

private:
    SharedPort(int fd, Family family, uint16_t port) : fd_(fd), family_(family), port_(port) {}
    UniqueFd fd_;
    Family family_ = Family::v4;
    uint16_t port_ = 0;
    uint32_t mark_ = 0;
};

}  // namespace avpn::registry
