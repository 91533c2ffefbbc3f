#include "netlink/socket.hpp"

#include <libmnl/libmnl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <utility>

#include "common/crypto.hpp"
#include "netlink/error.hpp"

namespace avpn::nl {

namespace {

// Receive slots: the first is large enough for any dump datagram (the kernel
// fills at most 32 KiB per dump skb); the others take the small acks that a
// batch produces, many per recvmmsg call.
constexpr size_t kFirstSlot = 64 * 1024;
constexpr size_t kSlot = 4 * 1024;
constexpr size_t kMaxSlots = 256;

// Receive-queue cost of one ack skb (its truesize), rounded up: a capped
// ack of ~36 bytes still occupies a full skb plus its shared info.
constexpr size_t kAckCost = 1024;

Status set_int(mnl_socket* s, int level, int name, int value, const char* what) {
    if (setsockopt(mnl_socket_get_fd(s), level, name, &value, sizeof value) != 0)
        return system_error("netlink socket option", what, errno);
    return {};
}

int get_int(mnl_socket* s, int name) {
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt(mnl_socket_get_fd(s), SOL_SOCKET, name, &v, &len);
    return v;
}

// The *FORCE variants need CAP_NET_ADMIN; without it the plain option is
// capped by net.core.{r,w}mem_max, which only makes chunks smaller.
void set_buffer(mnl_socket* s, int force_name, int name, int bytes) {
    if (setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, force_name, &bytes, sizeof bytes) != 0)
        setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, name, &bytes, sizeof bytes);
}

}  // namespace

Result<Socket> Socket::open(int protocol, const SocketOptions& options) {
    Socket s;
    s.protocol_ = protocol;
    s.sock_ = mnl_socket_open2(protocol, SOCK_CLOEXEC);
    if (!s.sock_) return system_error("open netlink socket", "protocol " + std::to_string(protocol), errno);
    if (mnl_socket_bind(s.sock_, 0, MNL_SOCKET_AUTOPID) < 0)
        return system_error("bind netlink socket", "protocol " + std::to_string(protocol), errno);
    if (auto st = s.configure(options); !st) return st.error();
    s.next_seq_ = uint32_t(time(nullptr));
    return s;
}

Status Socket::configure(const SocketOptions& options) {
    if (auto st = set_int(sock_, SOL_NETLINK, NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK"); !st) return st;
    if (auto st = set_int(sock_, SOL_NETLINK, NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK"); !st) return st;
    if (protocol_ == NETLINK_ROUTE) {
        // Lets route/address dumps be filtered by the kernel; older kernels
        // without it still work, the layer filters again on its side.
        int one = 1;
        setsockopt(fd(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
    }
    set_buffer(sock_, SO_RCVBUFFORCE, SO_RCVBUF, options.rcvbuf);
    set_buffer(sock_, SO_SNDBUFFORCE, SO_SNDBUF, options.sndbuf);
    timeval tv{options.timeout_ms / 1000, (options.timeout_ms % 1000) * 1000};
    if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return system_error("netlink socket option", "SO_RCVTIMEO", errno);
    // Both values read back are what the kernel enforces (already doubled).
    int snd = get_int(sock_, SO_SNDBUF), rcv = get_int(sock_, SO_RCVBUF);
    max_send_ = size_t(std::max(snd - 32, 4096));
    max_acks_ = std::max<size_t>(size_t(rcv) / kAckCost, 16);
    return {};
}

Socket::Socket(Socket&& o) noexcept { *this = std::move(o); }

Socket& Socket::operator=(Socket&& o) noexcept {
    if (this != &o) {
        close();
        sock_ = std::exchange(o.sock_, nullptr);
        protocol_ = o.protocol_;
        next_seq_ = o.next_seq_;
        max_send_ = o.max_send_;
        max_acks_ = o.max_acks_;
        arena_ = std::move(o.arena_);
    }
    return *this;
}

Socket::~Socket() { close(); }

void Socket::close() {
    if (sock_) mnl_socket_close(sock_);
    sock_ = nullptr;
}

int Socket::fd() const { return mnl_socket_get_fd(sock_); }
uint32_t Socket::portid() const { return mnl_socket_get_portid(sock_); }

uint32_t Socket::reserve_seq(uint32_t count) {
    uint32_t first = next_seq_;
    next_seq_ += count;
    return first;
}

Status Socket::send(Bytes datagram) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        ssize_t n = sendto(fd(), datagram.data(), datagram.size(), 0,
                           reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
        if (n >= 0) return {};
        if (errno != EINTR) return system_error("send to the kernel", "netlink", errno);
    }
}

Status Socket::receive(size_t max_datagrams, const std::function<void(const Datagram&)>& sink, bool wait) {
    size_t n = std::clamp<size_t>(max_datagrams, 1, kMaxSlots);
    if (arena_.empty()) arena_.resize(kFirstSlot + (kMaxSlots - 1) * kSlot);
    std::array<mmsghdr, kMaxSlots> msgs{};
    std::array<iovec, kMaxSlots> iov{};
    std::array<sockaddr_nl, kMaxSlots> from{};
    for (size_t i = 0; i < n; ++i) {
        size_t off = i == 0 ? 0 : kFirstSlot + (i - 1) * kSlot;
        iov[i] = {arena_.data() + off, i == 0 ? kFirstSlot : kSlot};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
    }
    int got;
    do {
        got = recvmmsg(fd(), msgs.data(), unsigned(n), wait ? MSG_WAITFORONE : MSG_DONTWAIT, nullptr);
    } while (got < 0 && errno == EINTR);
    if (got < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    if (got < 0) {
        // SO_RCVTIMEO expired: the kernel says EAGAIN, which here means ETIMEDOUT.
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return Error{"receive from the kernel", "netlink", "timed out", ETIMEDOUT};
        return system_error("receive from the kernel", "netlink", errno);
    }
    for (int i = 0; i < got; ++i) {
        if (from[i].nl_pid != 0) continue;  // only the kernel speaks to us
        auto* base = static_cast<const uint8_t*>(iov[i].iov_base);
        size_t len = std::min<size_t>(msgs[i].msg_len, iov[i].iov_len);
        sink(Datagram{Bytes(base, len), (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0});
        // XFRM dumps carry SA keys: they do not outlive their parsing.
        if (protocol_ == NETLINK_XFRM) crypto::wipe(iov[i].iov_base, len);
    }
    return {};
}

}  // namespace avpn::nl
