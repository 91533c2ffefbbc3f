#include "orchestrator/daemon/sd_notify.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace avpn::daemon {

namespace {

template <class T>
std::optional<T> whole_number(const char* text) {
    if (!text || !*text) return std::nullopt;
    T v{};
    const char* end = text + std::strlen(text);
    auto [p, ec] = std::from_chars(text, end, v);
    if (ec != std::errc() || p != end) return std::nullopt;
    return v;
}

}  // namespace

Result<NotifyAddress> parse_notify_socket(std::string_view value) {
    NotifyAddress a;
    a.addr.sun_family = AF_UNIX;
    const size_t room = sizeof a.addr.sun_path;
    const Error bad{"use $NOTIFY_SOCKET", std::string(value), ""};
    if (value.size() < 2 || (value[0] != '/' && value[0] != '@')) {
        Error e = bad;
        e.why = "neither an absolute path nor an abstract socket name (@...)";
        return e;
    }
    // A path keeps its terminating NUL inside sun_path; an abstract name is
    // a leading NUL and exactly the name's bytes, so the length must not
    // count a terminator.
    const bool abstract = value[0] == '@';
    if (value.size() + (abstract ? 0 : 1) > room) {
        Error e = bad;
        e.why = "longer than a unix socket address can hold";
        return e;
    }
    std::memcpy(a.addr.sun_path, value.data(), value.size());
    if (abstract) a.addr.sun_path[0] = '\0';
    a.len = socklen_t(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
    return a;
}

std::optional<std::chrono::microseconds> parse_watchdog(const char* usec, const char* pid, pid_t self) {
    auto us = whole_number<uint64_t>(usec);
    if (!us || *us == 0) return std::nullopt;
    // Set by systemd for the main process; a child that inherited it from a
    // parent that did not unset it must not think the watchdog is its own.
    if (pid) {
        auto p = whole_number<long>(pid);
        if (!p || *p != long(self)) return std::nullopt;
    }
    return std::chrono::microseconds(*us);
}

std::string monotonic_usec_field() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t us = uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
    return "MONOTONIC_USEC=" + std::to_string(us);
}

Result<Notifier> Notifier::from_environment() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    std::string where = socket ? socket : "";
    auto watchdog = parse_watchdog(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
    for (const char* v : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) ::unsetenv(v);
    if (where.empty()) return Notifier();
    auto address = parse_notify_socket(where);
    if (!address) return address.error();
    return open(*address, watchdog);
}

Result<Notifier> Notifier::open(const NotifyAddress& address, std::optional<std::chrono::microseconds> watchdog) {
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{"open a socket for systemd notifications", "", std::strerror(errno)};
    Notifier n;
    n.fd_ = fd;
    n.address_ = address;
    n.watchdog_ = watchdog;
    return n;
}

Notifier::Notifier(Notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), address_(other.address_), watchdog_(other.watchdog_) {}

Notifier& Notifier::operator=(Notifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        address_ = other.address_;
        watchdog_ = other.watchdog_;
    }
    return *this;
}

Notifier::~Notifier() {
    if (fd_ >= 0) ::close(fd_);
}

Status Notifier::send(std::string_view state) const {
    if (fd_ < 0) return {};
    iovec iov{const_cast<char*>(state.data()), state.size()};
    msghdr m{};
    m.msg_name = const_cast<sockaddr_un*>(&address_.addr);
    m.msg_namelen = address_.len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    // Blocking, as libsystemd sends: systemd reads its socket promptly, and
    // a READY=1 dropped on a full queue would leave the unit "activating".
    for (;;) {
        ssize_t n = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
        if (n >= 0) return {};
        if (errno == EINTR) continue;
        return Error{"notify systemd", std::string(state.substr(0, state.find('\n'))), std::strerror(errno)};
    }
}

}  // namespace avpn::daemon
