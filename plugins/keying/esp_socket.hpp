// The ESP-in-UDP socket of an XFRM group (RFC 3948). A UDP socket with
// UDP_ENCAP_ESPINUDP on the group's tunnel port is what makes the kernel
// decapsulate ESP-in-UDP arriving there: without one the port is closed and
// the kernel answers every packet with ICMP port unreachable, whatever SAs
// are installed. So whoever keeps an XFRM group up must hold this socket for
// as long as the group exists: avpnd (runtime/esp_sockets.hpp), never a
// one-shot.
//
// What the kernel leaves to userspace on it: datagrams of at most 8 bytes
// and those starting with four zero bytes (the non-ESP marker); a lone 0xFF
// is a NAT keepalive and dropped; everything else is ESP. The key exchange
// (issue 13) will read its messages from this same socket, so receive()
// hands those datagrams out with their sender; nothing reads them yet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace avpn::keying {

// One datagram the kernel did not take as ESP.
struct Datagram {
    Endpoint from;
    std::vector<uint8_t> bytes;  // as received, non-ESP marker included
};

class EspSocket {
public:
    // A socket of `family` bound to the wildcard address on `port`, with
    // UDP_ENCAP_ESPINUDP set, non-blocking and close-on-exec. IPv6 sockets
    // are IPV6_V6ONLY, so one of each family can share the port. A port
    // another socket holds fails with EADDRINUSE in Error.code.
    static Result<EspSocket> open(Family family, uint16_t port);


    int fd() const { return fd_.get(); }  // readable: receive() has a datagram
    Family family() const { return family_; }
    uint16_t port() const { return port_; }

    // The next datagram waiting, nullopt when none is (EAGAIN).
    Result<std::optional<Datagram>> receive();
    // One datagram to `to` (of this socket's family), from the group's port:
    // avpn's control messages start with the non-ESP marker, so the peer's
    // kernel hands them to its avpnd. A full send buffer is an error
    // (EAGAIN in Error.code); the protocol's retries cover the loss.
    // `source`: the address to send from (IP_PKTINFO), so the policy rule
    // of that address picks the uplink (docs/uplinks.md); nullopt: the
    // kernel's choice.
    Status send(const Endpoint& to, const std::vector<uint8_t>& bytes, const std::optional<IpAddr>& source = std::nullopt);

private:
    EspSocket(int fd, Family family, uint16_t port) : fd_(fd), family_(family), port_(port) {}
    UniqueFd fd_;
    Family family_ = Family::v4;
    uint16_t port_ = 0;
};

// "IPv4" / "IPv6", for messages.
const char* family_name(Family f);

}  // namespace avpn::keying
