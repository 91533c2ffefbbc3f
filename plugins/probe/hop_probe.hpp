// How many NATs stand between this router and the internet, for the
// shortcut openers' TTL (docs/shortcuts.md, "The punch"): a traceroute of
// one round. UDP datagrams with TTL 1..kMaxHops go out at once toward a
// public address (a registry's), each to its own destination port, and
// the routers on the way answer with ICMP time exceeded, which an
// IP_RECVERR socket reads from its error queue with the offender's
// address and the datagram it answers. A NAT answers from its inside
// address, the first router past the last NAT from a public one: the
// openers' TTL is that router's hop, so they pass every NAT of this site
// and die before the other end's.
//
// An ordinary UDP socket: no privilege needed for the errors. It carries
// the WireGuard device's fwmark (SO_MARK, CAP_NET_ADMIN) so the datagrams
// take the tunnel's route, and binds no port of the tunnel's: the NATs map
// it apart from the tunnel port.
#pragma once

#include <map>
#include <optional>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace avpn::probe {

inline constexpr int kMaxHops = 8;

// What the routers said: the offender per hop that answered "time
// exceeded", and the first hop at which the destination itself answered
// (port unreachable), if any.
struct HopAnswers {
    std::map<int, IpAddr> exceeded;
    std::optional<int> reached;
};

// The openers' TTL from the answers: the hop of the first router with a
// public address (not RFC 1918, RFC 6598 shared, link-local or loopback),
// which sits past the last NAT. nullopt when no public router answered
// before the destination (routers that do not answer, or no NAT at all).
std::optional<int> opener_ttl(const HopAnswers& answers);

// Whether `a` is an address a NAT's inside may use (IPv4: 10/8, 172.16/12,
// 192.168/16, 100.64/10, 169.254/16, 127/8; IPv6: fc00::/7, fe80::/10, ::1).
bool inside_address(const IpAddr& a);

class HopProbe {
public:
    // Sends the datagrams toward `to` (its family) at once; non-blocking,
    // close-on-exec. `mark` 0: none.
    static Result<HopProbe> start(const IpAddr& to, uint32_t mark);

    int fd() const { return fd_.get(); }
    const IpAddr& target() const { return to_; }
    // Takes what the error queue holds; call until the answers are in.
    Status read();
    const HopAnswers& answers() const { return answers_; }

private:
    HopProbe(int fd, const IpAddr& to) : fd_(fd), to_(to) {}
    UniqueFd fd_;
    IpAddr to_;
    HopAnswers answers_;
};

}  // namespace avpn::probe
