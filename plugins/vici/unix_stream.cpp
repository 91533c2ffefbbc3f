#include "plugins/vici/unix_stream.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace avpn::vici {

namespace {

Error sys_error(const char* what, const std::string& where, int err) {
    return Error{what, where, std::strerror(err), err};
}

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    return left > 60'000'000 ? 60'000'000 : int(left);
}

// Waits for `events` on fd until the deadline. Error on timeout or failure.
Status wait_for(int fd, short events, Clock::time_point deadline, const std::string& where) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n > 0) return {};
        if (n == 0) return Error{"waiting for charon", where, "timed out", ETIMEDOUT};
        if (errno != EINTR) return sys_error("poll", where, errno);
    }
}

}  // namespace

bool is_timeout(const Error& e) { return e.code == ETIMEDOUT; }

bool nothing_listening(const Error& connect_failure) {
    return connect_failure.code == ENOENT || connect_failure.code == ECONNREFUSED;
}

Status UnixStream::connect(const std::string& path) {
    close();
    path_ = path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return Error{"connecting to charon", path, "socket path empty or longer than 107 bytes"};
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return sys_error("socket", path, errno);
    // A unix connect completes at once or fails (EAGAIN: backlog full).
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        ::close(fd);
        return sys_error("connecting to charon", path, err);
    }
    fd_ = fd;
    return {};
}

void UnixStream::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Status UnixStream::send_all(std::span<const uint8_t> bytes, Clock::time_point deadline) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (Status st = wait_for(fd_, POLLOUT, deadline, path_); !st) return st;
            continue;
        }
        return sys_error("sending to charon", path_, n < 0 ? errno : EPIPE);
    }
    return {};
}

Result<size_t> UnixStream::recv_some(std::span<uint8_t> buf, Clock::time_point deadline) {
    for (;;) {
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n >= 0) return size_t(n);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return sys_error("reading from charon", path_, errno);
        if (Status st = wait_for(fd_, POLLIN, deadline, path_); !st) return st.error();
    }
}

Result<size_t> UnixStream::recv_now(std::span<uint8_t> buf, bool& closed) {
    closed = false;
    for (;;) {
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) return size_t(n);
        if (n == 0) {
            closed = true;
            return size_t(0);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t(0);
        if (errno == ECONNRESET) {
            closed = true;
            return size_t(0);
        }
        return sys_error("reading from charon", path_, errno);
    }
}

}  // namespace avpn::vici
