#include "plugins/probe/hop_probe.hpp"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstring>

#include "common/sockaddr.hpp"

namespace avpn::probe {

namespace {

// The destination port of the datagram with TTL `hop` (traceroute's range),
// so an answer names the hop it is for.
constexpr uint16_t kBasePort = 33434;

Error sys(std::string what, const IpAddr& to, int err) {
    return Error{std::move(what), "hop probe to " + to.str(), std::strerror(err), err};
}

const Prefix& v4(int i) {
    static const Prefix p[] = {*Prefix::parse("10.0.0.0/8"),     *Prefix::parse("172.16.0.0/12"),
                               *Prefix::parse("192.168.0.0/16"), *Prefix::parse("100.64.0.0/10"),
                               *Prefix::parse("169.254.0.0/16"), *Prefix::parse("127.0.0.0/8")};
    return p[i];
}
const Prefix& v6(int i) {
    static const Prefix p[] = {*Prefix::parse("fc00::/7"), *Prefix::parse("fe80::/10"), *Prefix::parse("::1/128")};
    return p[i];
}

}  // namespace

bool inside_address(const IpAddr& a) {
    if (a.family == Family::v4) {
        for (int i = 0; i < 6; ++i)
            if (v4(i).contains(a)) return true;
        return false;
    }
    for (int i = 0; i < 3; ++i)
        if (v6(i).contains(a)) return true;
    return false;
}

std::optional<int> opener_ttl(const HopAnswers& answers) {
    for (const auto& [hop, from] : answers.exceeded) {
        if (answers.reached && hop >= *answers.reached) break;
        if (!inside_address(from)) return hop;
    }
    return std::nullopt;
}

Result<HopProbe> HopProbe::start(const IpAddr& to, uint32_t mark) {
    const bool v6 = to.family == Family::v6;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys("open a UDP socket", to, errno);
    HopProbe p(fd, to);
    const int on = 1;
    if (::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &on, sizeof on) < 0)
        return sys("ask for ICMP errors (IP_RECVERR)", to, errno);
    if (mark && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
        return sys("set the tunnel's fwmark (SO_MARK)", to, errno);
    const std::array<uint8_t, 8> payload{};
    for (int hop = 1; hop <= kMaxHops; ++hop) {
        if (::setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &hop, sizeof hop) < 0)
            return sys("set the TTL", to, errno);
        sockaddr_storage sa;
        const socklen_t len = to_sockaddr(Endpoint{to, uint16_t(kBasePort + hop)}, sa);
        // The answer to an earlier hop may already be in: IP_RECVERR also
        // sets it as the socket's pending error, which the next send would
        // return instead of sending (sock_alloc_send_pskb). Taken here; the
        // answer itself stays in the error queue.
        int pending = 0;
        socklen_t plen = sizeof pending;
        (void)::getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &plen);
        // A send refused at once (no route) is the same answer as none.
        (void)::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), len);
    }
    return p;
}

Status HopProbe::read() {
    for (int i = 0; i < 4 * kMaxHops; ++i) {
        std::array<uint8_t, 64> data;
        std::array<uint8_t, 512> control;
        sockaddr_storage name{};
        iovec iov{data.data(), data.size()};
        msghdr msg{};
        msg.msg_name = &name;
        msg.msg_namelen = sizeof name;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        if (::recvmsg(fd_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
            return sys("read ICMP errors", to_, errno);
        }
        auto dst = from_sockaddr(name);
        if (!dst || dst->port <= kBasePort || dst->port > kBasePort + kMaxHops) continue;
        const int hop = dst->port - kBasePort;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            const bool err4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
            const bool err6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!err4 && !err6) continue;
            const auto* ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
            if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) continue;
            const bool exceeded = err4 ? ee->ee_type == 11 : ee->ee_type == 3;  // ICMP(v6) time exceeded
            sockaddr_storage off{};
            const auto* o = SO_EE_OFFENDER(ee);
            std::memcpy(&off, o, err4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
            auto from = from_sockaddr(off);
            if (exceeded && from) answers_.exceeded[hop] = from->addr;
            else if (!exceeded && (!answers_.reached || hop < *answers_.reached)) answers_.reached = hop;
        }
    }
    return {};
}

}  // namespace avpn::probe
