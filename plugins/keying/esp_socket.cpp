#include "plugins/keying/esp_socket.hpp"

#include "common/sockaddr.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace avpn::keying {

namespace {

Error sys_error(std::string what, Family f, uint16_t port, int err) {
    return Error{std::move(what), std::string(family_name(f)) + " UDP port " + std::to_string(port),
                 std::strerror(err), err};
}

}  // namespace

const char* family_name(Family f) { return f == Family::v4 ? "IPv4" : "IPv6"; }

Result<EspSocket> EspSocket::open(Family family, uint16_t port) {
    const int af = family == Family::v4 ? AF_INET : AF_INET6;
    int fd = ::socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (fd < 0) return sys_error("open an ESP-in-UDP socket", family, port, errno);
    EspSocket s(fd, family, port);  // closes fd on every error below
    int one = 1;
    // Without V6ONLY an IPv6 wildcard socket would also take IPv4 and
    // collide with the group's IPv4 socket on the same port.
    if (af == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        return sys_error("set IPV6_V6ONLY", family, port, errno);
    int rc;
    if (af == AF_INET) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_any;
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) return sys_error("bind the ESP-in-UDP socket", family, port, errno);
    // Set after bind, as IKE daemons do: once set, ESP arriving on the port
    // is the kernel's, so the socket must be the one that keeps the port.
    int encap = UDP_ENCAP_ESPINUDP;
    if (::setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &encap, sizeof encap) != 0)
        return sys_error("set UDP_ENCAP_ESPINUDP", family, port, errno);
    return s;
}

Status EspSocket::send(const Endpoint& to, const std::vector<uint8_t>& bytes, const std::optional<IpAddr>& source) {
    if (to.addr.family != family_) return Error{"send on the ESP-in-UDP socket", to.str(), "wrong address family", EAFNOSUPPORT};
    sockaddr_storage dst;
    const socklen_t len = to_sockaddr(to, dst);
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_name = &dst;
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    if (source && source->family == family_) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;  // CMSG_FIRSTHDR is null without room
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        if (family_ == Family::v4) {
            in_pktinfo info{};
            std::memcpy(&info.ipi_spec_dst, source->bytes.data(), 4);
            c->cmsg_level = IPPROTO_IP, c->cmsg_type = IP_PKTINFO, c->cmsg_len = CMSG_LEN(sizeof info);
            std::memcpy(CMSG_DATA(c), &info, sizeof info);
            msg.msg_controllen = CMSG_SPACE(sizeof info);
        } else {
            in6_pktinfo info{};
            std::memcpy(&info.ipi6_addr, source->bytes.data(), 16);
            c->cmsg_level = IPPROTO_IPV6, c->cmsg_type = IPV6_PKTINFO, c->cmsg_len = CMSG_LEN(sizeof info);
            std::memcpy(CMSG_DATA(c), &info, sizeof info);
            msg.msg_controllen = CMSG_SPACE(sizeof info);
        }
    }
    ssize_t n;
    do {
        n = ::sendmsg(fd_.get(), &msg, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error{"send on the ESP-in-UDP socket", to.str(), std::strerror(errno), errno};
    return {};
}

Result<std::optional<Datagram>> EspSocket::receive() {
    std::vector<uint8_t> buf(65536);
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n;
    do {
        n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<Datagram>();
        return sys_error("read the ESP-in-UDP socket", family_, port_, errno);
    }
    Datagram d;
    buf.resize(size_t(n));
    d.bytes = std::move(buf);
    auto sender = from_sockaddr(from);
    if (!sender) return Error{"read the ESP-in-UDP socket", "", "a sender of another address family", EAFNOSUPPORT};
    d.from = *sender;
    return std::optional<Datagram>(std::move(d));
}

}  // namespace avpn::keying
