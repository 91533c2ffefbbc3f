// ICMP echo through one uplink: the probes of docs/uplinks.md. A raw ICMP
// (or ICMPv6) socket bound to the uplink's device and its address, so the
// request leaves through that uplink whatever the routing tables prefer
// (source rules steer its address to the uplink's table) and only replies
// arriving on it are read. Raw, not the kernel's "ping" datagram sockets:
// those need net.ipv4.ping_group_range, which is off in every network
// namespace but the first; a raw socket needs CAP_NET_RAW (avpnd.service).
//
// A raw socket sees every echo reply on its device, so each socket stamps
// its requests with an identifier of its own and receive() keeps only
// replies carrying it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace avpn::probe {

struct EchoReply {
    IpAddr from;
    uint16_t sequence = 0;
    // How long before receive() returned it the kernel took the reply in
    // (SO_TIMESTAMPNS): a busy daemon reads late, and the path's RTT must
    // not include that wait. nullopt: the kernel gave no timestamp.
    std::optional<std::chrono::nanoseconds> waited;
};

class IcmpEchoSocket {
public:
    // Bound to `device` and `source` (whose family picks ICMP or ICMPv6),
    // non-blocking and close-on-exec; `identifier` goes into every request.
    static Result<IcmpEchoSocket> open(const std::string& device, const IpAddr& source, uint16_t identifier);

    int fd() const { return fd_.get(); }  // readable: receive() may have a reply
    const IpAddr& source() const { return source_; }

    // One echo request to `target` (of the source's family). A full send
    // buffer or an unreachable target is an Error: the probe is lost.
    Status send(const IpAddr& target, uint16_t sequence);
    // The next echo reply to this socket's requests; nullopt when none waits.
    // Other ICMP (other identifiers, errors, requests) is read and skipped.
    Result<std::optional<EchoReply>> receive();

private:
    IcmpEchoSocket(int fd, const IpAddr& source, uint16_t identifier)
        : fd_(fd), source_(source), identifier_(identifier) {}
    UniqueFd fd_;
    IpAddr source_;
    uint16_t identifier_ = 0;
};

// The echo request's bytes (type, code, checksum, identifier, sequence, 8
// bytes of payload). ICMPv6's checksum covers a pseudo-header the kernel
// fills in, so it is left 0 there.
std::string echo_request(Family family, uint16_t identifier, uint16_t sequence);
// An echo reply's identifier and sequence from what a raw socket of
// `family` read (IPv4 raw sockets deliver the IP header too); nullopt for
// anything else.
struct EchoHeader {
    uint16_t identifier = 0, sequence = 0;
};
std::optional<EchoHeader> parse_echo_reply(Family family, const uint8_t* data, size_t size);

}  // namespace avpn::probe
