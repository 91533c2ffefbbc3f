#include "plugins/probe/icmp_echo.hpp"

#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <array>
#include <cstring>

#include "common/sockaddr.hpp"

namespace avpn::probe {

namespace {

constexpr uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;
constexpr uint8_t kEchoRequest6 = 128, kEchoReply6 = 129;
constexpr size_t kHeader = 8, kPayload = 8;

uint16_t internet_checksum(const std::string& b) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < b.size(); i += 2) sum += uint32_t(uint8_t(b[i])) << 8 | uint8_t(b[i + 1]);
    if (b.size() % 2) sum += uint32_t(uint8_t(b.back())) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

Error socket_error(std::string what, const std::string& device, int err) {
    return Error{std::move(what), "uplink " + device, std::strerror(err), err};
}

}  // namespace

std::string echo_request(Family family, uint16_t identifier, uint16_t sequence) {
    std::string b(kHeader + kPayload, '\0');
    b[0] = char(family == Family::v4 ? kEchoRequest4 : kEchoRequest6);
    b[4] = char(identifier >> 8), b[5] = char(identifier);
    b[6] = char(sequence >> 8), b[7] = char(sequence);
    std::memcpy(b.data() + kHeader, "avpn-up", 7);
    if (family == Family::v4) {
        const uint16_t c = internet_checksum(b);
        b[2] = char(c >> 8), b[3] = char(c);
    }
    return b;
}

std::optional<EchoHeader> parse_echo_reply(Family family, const uint8_t* data, size_t size) {
    if (family == Family::v4) {
        // The IPv4 header first: its length is in the low nibble, in words.
        if (size < 20 || (data[0] >> 4) != 4) return std::nullopt;
        const size_t ihl = size_t(data[0] & 0x0f) * 4;
        if (ihl < 20 || size < ihl + kHeader) return std::nullopt;
        data += ihl, size -= ihl;
        if (data[0] != kEchoReply4 || data[1] != 0) return std::nullopt;
    } else {
        if (size < kHeader || data[0] != kEchoReply6 || data[1] != 0) return std::nullopt;
    }
    return EchoHeader{uint16_t(data[4] << 8 | data[5]), uint16_t(data[6] << 8 | data[7])};
}

Result<IcmpEchoSocket> IcmpEchoSocket::open(const std::string& device, const IpAddr& source, uint16_t identifier) {
    const bool v4 = source.family == Family::v4;
    int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    if (fd < 0) return socket_error(std::string("open a raw ") + (v4 ? "ICMP" : "ICMPv6") + " socket (CAP_NET_RAW)", device, errno);
    IcmpEchoSocket s(fd, source, identifier);  // closes fd on every error below
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(), socklen_t(device.size() + 1)) != 0)
        return socket_error("bind the probe socket to its device", device, errno);
    // Only echo replies reach the socket: a busy router's other ICMP is
    // not copied to it at all.
    if (v4) {
        icmp_filter f{};
        f.data = ~(1u << kEchoReply4);
        if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof f) != 0)
            return socket_error("set the probe socket's ICMP filter", device, errno);
    } else {
        icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(kEchoReply6, &f);
        if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) != 0)
            return socket_error("set the probe socket's ICMPv6 filter", device, errno);
    }
    // The kernel's receive time of each reply (EchoReply::waited).
    const int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
        return socket_error("ask for the probe socket's receive timestamps", device, errno);
    sockaddr_storage a;
    const socklen_t len = to_sockaddr(Endpoint{source, 0}, a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0)
        return socket_error("bind the probe socket to " + source.str(), device, errno);
    return s;
}

Status IcmpEchoSocket::send(const IpAddr& target, uint16_t sequence) {
    if (target.family != source_.family)
        return Error{"send a probe", target.str(), "not of the uplink address's family", EAFNOSUPPORT};
    const std::string req = echo_request(source_.family, identifier_, sequence);
    sockaddr_storage dst;
    const socklen_t len = to_sockaddr(Endpoint{target, 0}, dst);
    ssize_t n;
    do {
        n = ::sendto(fd_.get(), req.data(), req.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&dst), len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error{"send a probe", target.str() + " from " + source_.str(), std::strerror(errno), errno};
    return {};
}

Result<std::optional<EchoReply>> IcmpEchoSocket::receive() {
    std::array<uint8_t, 1500> buf;
    alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(timespec))> control;
    for (;;) {
        sockaddr_storage from{};
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::optional<EchoReply>{};
        if (n < 0) return Error{"read a probe reply", "from " + source_.str(), std::strerror(errno), errno};
        auto h = parse_echo_reply(source_.family, buf.data(), size_t(n));
        auto peer = from_sockaddr(from);
        if (!h || h->identifier != identifier_ || !peer) continue;
        EchoReply reply{peer->addr, h->sequence, std::nullopt};
        // The timestamp is the wall clock's; its age now is the wait, which
        // the caller takes off its own (steady) clock.
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
            timespec at;
            std::memcpy(&at, CMSG_DATA(c), sizeof at);
            timespec now;
            ::clock_gettime(CLOCK_REALTIME, &now);
            const auto waited = std::chrono::seconds(now.tv_sec - at.tv_sec) +
                                std::chrono::nanoseconds(now.tv_nsec - at.tv_nsec);
            if (waited >= std::chrono::nanoseconds(0)) reply.waited = waited;  // a clock step back: no figure
        }
        return std::optional<EchoReply>{reply};
    }
}

}  // namespace avpn::probe
