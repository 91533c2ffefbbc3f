#include "orchestrator/registry/udp_socket.hpp"

#include "common/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace avpn::registry {

namespace {

Error sys(const char* what, const std::string& where) { return Error{what, where, std::strerror(errno), errno}; }

}  // namespace

Result<UdpSocket> UdpSocket::bind(const Endpoint& at) {
    int fd = ::socket(at.addr.af(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys("socket", at.str());
    if (at.addr.family == Family::v6) {
        int only = 1;  // [::]:9350 serves IPv6; run a second registry (or address) for IPv4
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
    }
    int buf = 4 << 20;  // bursts of registrations after a restart
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    sockaddr_storage sa;
    socklen_t len = to_sockaddr(at, sa);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
        Error e = sys("bind", at.str());
        ::close(fd);
        return e;
    }
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    Endpoint local = at;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) == 0)
        if (auto e = from_sockaddr(bound)) local = *e;
    return UdpSocket(fd, local);
}

UdpSocket::~UdpSocket() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::optional<UdpSocket::Datagram>> UdpSocket::receive() {
    std::vector<uint8_t> buf(2048);
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n;
    do n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<Datagram>();
        return sys("recvfrom", local_.str());
    }
    auto e = from_sockaddr(from);
    if (!e) return std::optional<Datagram>();
    // A datagram longer than the buffer is no registry message; its
    // reported length (MSG_TRUNC) makes the parser refuse it.
    buf.resize(size_t(n) > buf.size() ? buf.size() + 1 : size_t(n));
    return std::optional<Datagram>(Datagram{*e, std::move(buf)});
}

Status UdpSocket::send(const Endpoint& to, const std::vector<uint8_t>& bytes) {
    sockaddr_storage sa;
    socklen_t len = to_sockaddr(to, sa);
    ssize_t n;
    do n = ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sa), len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return sys("sendto", to.str());
    return {};
}

}  // namespace avpn::registry
