#include "plugins/wireguard/uapi_conn.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/crypto.hpp"

namespace avpn::wg {

namespace {

constexpr size_t kRecvBytes = 64 * 1024;

std::string errno_text(int err) { return std::strerror(err); }

// A daemon that is alive but whose listen backlog is full refuses with
// EAGAIN: retried until the timeout.
Status connect_with_retry(int fd, const sockaddr_un& addr, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return {};
        int err = errno;
        if (err == EINTR) continue;
        if (err != EAGAIN || std::chrono::steady_clock::now() >= deadline)
            return Error{"", "", errno_text(err), err};
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

Result<UapiConnection> UapiConnection::open(const std::string& path, const std::string& ifname,
                                            const UapiLimits& limits) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return Error{"connect to UAPI socket", path, "path too long for a unix socket"};
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int err = errno;
        return Error{"create unix socket", path, errno_text(err), err};
    }
    UapiConnection conn(fd, ifname, limits);
    if (Status st = connect_with_retry(fd, addr, limits.timeout_ms); !st)
        return Error{"connect to UAPI socket", path, st.error().why, st.error().code};
    return conn;
}

UapiConnection::UapiConnection(int fd, std::string ifname, UapiLimits limits)
    : fd_(fd), ifname_(std::move(ifname)), limits_(limits) {
    // Never reallocated (see fill()): no stray copies of key material.
    buf_.reserve(limits_.max_line_bytes + kRecvBytes);
}

UapiConnection::UapiConnection(UapiConnection&& other) noexcept
    : fd_(other.fd_), ifname_(std::move(other.ifname_)), limits_(other.limits_),
      answered_early_(other.answered_early_), buf_(std::move(other.buf_)), start_(other.start_),
      total_(other.total_) {
    other.fd_ = -1;
}

UapiConnection::~UapiConnection() {
    // A get response carries the device's private key.
    buf_.resize(buf_.capacity());
    crypto::wipe(buf_.data(), buf_.size());
    if (fd_ >= 0) close(fd_);
}

Error UapiConnection::fail(std::string_view what, std::string why, int code) const {
    return Error{std::string(what), ifname_, std::move(why), code};
}

Status UapiConnection::wait(short events, short& revents, std::string_view doing) {
    pollfd p{fd_, events, 0};
    for (;;) {
        int n = poll(&p, 1, limits_.timeout_ms);
        if (n > 0) break;
        if (n == 0)
            return fail(doing, "no progress for " + std::to_string(limits_.timeout_ms) + " ms", ETIMEDOUT);
        int err = errno;
        if (err != EINTR) return fail(doing, errno_text(err), err);
    }
    revents = p.revents;
    return {};
}

Status UapiConnection::send(std::string_view data) {
    while (!data.empty() && !answered_early_) {
        short revents = 0;
        if (Status st = wait(POLLOUT | POLLIN, revents, "send UAPI request"); !st) return st;
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            answered_early_ = true;
            break;
        }
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
        } else if (errno == EPIPE || errno == ECONNRESET) {
            answered_early_ = true;
        } else if (int err = errno; err != EAGAIN && err != EINTR) {
            return fail("send UAPI request", errno_text(err), err);
        }
    }
    return {};
}

Status UapiConnection::fill() {
    if (start_ > 0) {  // drop consumed bytes, wiping them first
        crypto::wipe(buf_.data(), start_);
        buf_.erase(0, start_);
        start_ = 0;
    }
    short revents = 0;
    if (Status st = wait(POLLIN, revents, "read UAPI response"); !st) return st;
    size_t old = buf_.size();
    buf_.resize(old + kRecvBytes);
    ssize_t n = recv(fd_, buf_.data() + old, kRecvBytes, MSG_DONTWAIT);
    int err = errno;
    buf_.resize(old + static_cast<size_t>(n > 0 ? n : 0));
    if (n == 0) return fail("read UAPI response", "the daemon closed the connection mid-response");
    if (n < 0) {
        if (err == EAGAIN || err == EINTR) return {};
        return fail("read UAPI response", errno_text(err), err);
    }
    total_ += static_cast<size_t>(n);
    if (total_ > limits_.max_response_bytes)
        return fail("read UAPI response", "longer than " + std::to_string(limits_.max_response_bytes) + " bytes");
    return {};
}

Result<pid_t> UapiConnection::peer_pid() const {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return fail("read the UAPI socket's owner", errno_text(errno));
    // 0: the listener lives in a PID namespace this process cannot see into.
    if (cred.pid <= 0) return fail("read the UAPI socket's owner", "its process is in another PID namespace");
    return cred.pid;
}

Result<std::string_view> UapiConnection::read_line() {
    for (;;) {
        size_t nl = buf_.find('\n', start_);
        size_t line_len = (nl == std::string::npos ? buf_.size() : nl) - start_;
        if (line_len > limits_.max_line_bytes)
            return fail("read UAPI response", "a line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
        if (nl != std::string::npos) {
            std::string_view line(buf_.data() + start_, line_len);
            start_ = nl + 1;
            return line;
        }
        if (Status st = fill(); !st) return st.error();
    }
}

}  // namespace avpn::wg
