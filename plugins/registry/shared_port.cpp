#include "plugins/registry/shared_port.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/sockaddr.hpp"
#include "plugins/keying/handshake_wire.hpp"

namespace avpn::registry {

namespace {

constexpr size_t kUdpHeaderLen = 8;

Error sys_error(std::string what, Family f, uint16_t port, int err) {
    return Error{std::move(what), std::string(f == Family::v4 ? "IPv4" : "IPv6") + " shared UDP port " + std::to_string(port),
                 std::strerror(err), err};
}

// The classic BPF program of the receiving socket. An IPv4 raw socket's
// packets start at the IP header (its length in the low nibble of byte 0,
// which BPF_MSH turns into X); an IPv6 raw socket's start at the UDP header
// (X stays 0). Kept: not a later fragment, UDP destination `port`, and a
// payload that starts with the non-ESP marker, any type byte and "avp".
std::vector<sock_filter> avpn_header_filter(Family family, uint16_t port) {
    const uint32_t magic_av = uint32_t(keying::kMagic[0]) << 8 | keying::kMagic[1];
    const uint32_t magic_p = keying::kMagic[2];
    std::vector<sock_filter> f;
    // Each check jumps to the final "drop"; the jump offsets are filled in
    // below, when the program's length is known.
    std::vector<size_t> to_drop;
    auto check_eq = [&](uint32_t k) {
        to_drop.push_back(f.size());
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0));
    };
    if (family == Family::v4) {
        f.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6));  // flags and fragment offset
        to_drop.push_back(f.size());
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 0, 0));  // a later fragment: drop
        f.push_back(BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0));                // X = IP header length
    }
    f.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2));  // UDP destination port
    check_eq(port);
    f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_IND, kUdpHeaderLen));  // the non-ESP marker
    check_eq(0);
    f.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_IND, kUdpHeaderLen + 5));  // "av"
    check_eq(magic_av);
    f.push_back(BPF_STMT(BPF_LD | BPF_B | BPF_IND, kUdpHeaderLen + 7));  // "p"
    check_eq(magic_p);
    f.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffff));  // keep the whole datagram
    const size_t drop = f.size();
    f.push_back(BPF_STMT(BPF_RET | BPF_K, 0));
    for (size_t i : to_drop) {
        const auto skip = uint8_t(drop - i - 1);
        // JSET drops when a bit is set (true branch); JEQ drops when unequal.
        if (BPF_OP(f[i].code) == BPF_JSET) f[i].jt = skip;
        else f[i].jf = skip;
    }
    return f;
}

}  // namespace

Result<SharedPort> SharedPort::open(Family family, uint16_t port) {
    const int af = family == Family::v4 ? AF_INET : AF_INET6;
    int fd = ::socket(af, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (fd < 0) return sys_error("open a raw UDP socket (needs CAP_NET_RAW)", family, port, errno);
    SharedPort s(fd, family, port);  // closes fd on every error below
    // Before the filter nothing may be queued that it would have dropped:
    // attach it first, then drain what came in between.
    std::vector<sock_filter> code = avpn_header_filter(family, port);
    sock_fprog prog{uint16_t(code.size()), code.data()};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
        return sys_error("attach the avpn datagram filter", family, port, errno);
    if (family == Family::v6) {
        int offset = 6;  // the UDP checksum, which IPv6 requires: the kernel computes it
        if (::setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset) != 0)
            return sys_error("set IPV6_CHECKSUM", family, port, errno);
    }
    uint8_t scratch[1];
    while (::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) >= 0) {
    }
    return s;
}

namespace {

// The socket's TTL (hop limit) for its next sends; -1: the default again.
int set_hop_limit(int fd, Family family, int value) {
    return family == Family::v4 ? ::setsockopt(fd, IPPROTO_IP, IP_TTL, &value, sizeof value)
                                : ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &value, sizeof value);
}

}  // namespace

Status SharedPort::send(const Endpoint& to, const std::vector<uint8_t>& payload, std::optional<int> hop_limit) {
    if (to.addr.family != family_) return Error{"send on the shared port", to.str(), "wrong address family", EAFNOSUPPORT};
    const size_t len = kUdpHeaderLen + payload.size();
    if (len > 0xffff) return Error{"send on the shared port", to.str(), "datagram too long", EMSGSIZE};
    std::vector<uint8_t> dgram;
    dgram.reserve(len);
    for (uint16_t v : {port_, to.port, uint16_t(len)}) dgram.push_back(uint8_t(v >> 8)), dgram.push_back(uint8_t(v));
    dgram.push_back(0), dgram.push_back(0);  // checksum: none (IPv4) or the kernel's (IPv6)
    dgram.insert(dgram.end(), payload.begin(), payload.end());
    // The raw socket's sockaddr port must be 0 for IPv6 (it would be taken
    // as the protocol); the UDP header carries the port.
    Endpoint dst = to;
    dst.port = 0;
    sockaddr_storage sa;
    const socklen_t sl = to_sockaddr(dst, sa);
    if (hop_limit && set_hop_limit(fd_.get(), family_, *hop_limit) < 0)
        return Error{"set the TTL on the shared port", to.str(), std::strerror(errno), errno};
    ssize_t n;
    do n = ::sendto(fd_.get(), dgram.data(), dgram.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sa), sl);
    while (n < 0 && errno == EINTR);
    const int err = errno;
    if (hop_limit) set_hop_limit(fd_.get(), family_, -1);
    if (n < 0) return Error{"send on the shared port", to.str(), std::strerror(err), err};
    return {};
}

Result<std::optional<SharedPortDatagram>> SharedPort::receive() {
    std::vector<uint8_t> buf(65536);
    sockaddr_storage from{};
    socklen_t fl = sizeof from;
    ssize_t n;
    do n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<SharedPortDatagram>();
        return sys_error("read the shared port", family_, port_, errno);
    }
    // IPv4 raw sockets hand over the IP header too; IPv6 ones start at UDP.
    size_t at = 0;
    if (family_ == Family::v4) {
        if (n < 20) return sys_error("read the shared port: a truncated IP header", family_, port_, EBADMSG);
        at = size_t(buf[0] & 0x0f) * 4;
    }
    if (size_t(n) < at + kUdpHeaderLen) return sys_error("read the shared port: a truncated UDP header", family_, port_, EBADMSG);
    auto sender = from_sockaddr(from);
    if (!sender) return sys_error("read the shared port: a sender of another family", family_, port_, EAFNOSUPPORT);
    SharedPortDatagram d;
    d.from = *sender;
    d.from.port = uint16_t(buf[at] << 8 | buf[at + 1]);  // the raw sockaddr carries no port
    d.bytes.assign(buf.begin() + long(at + kUdpHeaderLen), buf.begin() + n);
    return std::optional<SharedPortDatagram>(std::move(d));
}

Status SharedPort::set_mark(uint32_t mark) {
    if (mark == mark_) return {};
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
        return sys_error("setting the fwmark of", family_, port_, errno);
    mark_ = mark;
    return {};
}

}  // namespace avpn::registry
