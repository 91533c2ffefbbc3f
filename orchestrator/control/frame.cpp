#include "orchestrator/control/frame.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace avpn::control {

namespace {

using Clock = std::chrono::steady_clock;

// Waits until fd is ready for `events` or the deadline passes.
Status wait(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return Error{"timeout", "control socket", "no progress in time", ETIMEDOUT};
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, int(left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{"poll", "control socket", std::strerror(errno)};
        if (n > 0) return {};  // readable, writable, or hung up: the next call says which
    }
}

Status read_exact(int fd, char* buf, size_t len, Clock::time_point deadline) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = ::recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += size_t(n);
            continue;
        }
        if (n == 0) return Error{"closed", "control socket", "the peer closed the connection"};
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return Error{"read", "control socket", std::strerror(errno)};
        if (Status s = wait(fd, POLLIN, deadline); !s) return s;
    }
    return {};
}

Status write_all(int fd, const char* buf, size_t len, Clock::time_point deadline) {
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = ::send(fd, buf + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            sent += size_t(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EPIPE || errno == ECONNRESET) return Error{"closed", "control socket", "the peer went away", errno};
        if (errno != EAGAIN && errno != EWOULDBLOCK) return Error{"write", "control socket", std::strerror(errno)};
        if (Status s = wait(fd, POLLOUT, deadline); !s) return s;
    }
    return {};
}

}  // namespace

Result<std::string> read_frame(int fd, size_t max_bytes, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    unsigned char head[4];
    if (Status s = read_exact(fd, reinterpret_cast<char*>(head), 4, deadline); !s) return s.error();
    size_t len = size_t(head[0]) << 24 | size_t(head[1]) << 16 | size_t(head[2]) << 8 | size_t(head[3]);
    if (len > max_bytes)
        return Error{"too large", "control socket",
                     "a message of " + std::to_string(len) + " bytes; the limit is " + std::to_string(max_bytes), EMSGSIZE};
    std::string payload(len, '\0');
    if (Status s = read_exact(fd, payload.data(), len, deadline); !s) return s.error();
    return payload;
}

Status write_frame(int fd, std::string_view payload, int timeout_ms) {
    if (payload.size() > 0xffffffffu) return Error{"too large", "control socket", "a message over 4 GiB", EMSGSIZE};
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    uint32_t n = uint32_t(payload.size());
    char head[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
    if (Status s = write_all(fd, head, 4, deadline); !s) return s;
    return write_all(fd, payload.data(), payload.size(), deadline);
}

}  // namespace avpn::control
