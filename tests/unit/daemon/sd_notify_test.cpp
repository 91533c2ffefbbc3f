// systemd's notification protocol as avpnd speaks it: addresses from
// $NOTIFY_SOCKET (path and abstract), the watchdog variables, and datagrams
// that arrive at a socket bound the way systemd binds its own.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "orchestrator/daemon/sd_notify.hpp"

using namespace avpn;
using namespace avpn::daemon;

namespace {

// A datagram socket bound to `address` (what systemd's manager holds).
struct Listener {
    int fd = -1;
    explicit Listener(const NotifyAddress& a) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0);
    }
    ~Listener() { ::close(fd); }
    std::string receive() {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) return "<nothing within 2 s>";
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? "<recv failed>" : std::string(buf, size_t(n));
    }
};

std::string temp_path(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/avpn-notify-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace

TEST_CASE("NOTIFY_SOCKET: a path keeps its NUL, an abstract name starts with one and has none") {
    auto p = parse_notify_socket("/run/systemd/notify");
    REQUIRE(p.ok());
    CHECK(std::string(p->addr.sun_path) == "/run/systemd/notify");
    CHECK(p->len == offsetof(sockaddr_un, sun_path) + std::strlen("/run/systemd/notify") + 1);

    auto a = parse_notify_socket("@avpn/notify");
    REQUIRE(a.ok());
    CHECK(a->addr.sun_path[0] == '\0');
    CHECK(std::string(a->addr.sun_path + 1, 11) == "avpn/notify");
    CHECK(a->len == offsetof(sockaddr_un, sun_path) + 12);
}

TEST_CASE("NOTIFY_SOCKET: relative paths, vsock and names too long for sun_path are refused") {
    CHECK_FALSE(parse_notify_socket("run/notify").ok());
    CHECK_FALSE(parse_notify_socket("vsock:2:1234").ok());
    CHECK_FALSE(parse_notify_socket("@").ok());
    CHECK_FALSE(parse_notify_socket("").ok());
    const size_t room = sizeof(sockaddr_un{}.sun_path);
    CHECK(parse_notify_socket("/" + std::string(room - 2, 'x')).ok());   // with its NUL: exactly full
    CHECK_FALSE(parse_notify_socket("/" + std::string(room - 1, 'x')).ok());
    CHECK(parse_notify_socket("@" + std::string(room - 1, 'x')).ok());   // abstract: no NUL needed
    CHECK_FALSE(parse_notify_socket("@" + std::string(room, 'x')).ok());
}

TEST_CASE("the watchdog is ours when WATCHDOG_PID is unset or names this process") {
    CHECK(parse_watchdog("3000000", nullptr, 42) == std::chrono::microseconds(3000000));
    CHECK(parse_watchdog("3000000", "42", 42) == std::chrono::microseconds(3000000));
    CHECK_FALSE(parse_watchdog("3000000", "43", 42));  // inherited from a parent
    CHECK_FALSE(parse_watchdog("3000000", "x", 42));
    CHECK_FALSE(parse_watchdog(nullptr, "42", 42));
    CHECK_FALSE(parse_watchdog("0", nullptr, 42));
    CHECK_FALSE(parse_watchdog("3s", nullptr, 42));
}

TEST_CASE("datagrams reach a socket bound to a path and to an abstract name") {
    for (std::string where : {temp_path("path"), "@" + temp_path("abstract")}) {
        CAPTURE(where);
        if (where[0] == '/') ::unlink(where.c_str());
        auto address = parse_notify_socket(where);
        REQUIRE(address.ok());
        Listener systemd(*address);
        auto n = Notifier::open(*address, std::nullopt);
        REQUIRE(n.ok());
        CHECK(n->enabled());
        REQUIRE(n->send("READY=1\nSTATUS=converged").ok());
        CHECK(systemd.receive() == "READY=1\nSTATUS=converged");
        REQUIRE(n->send("WATCHDOG=1").ok());
        CHECK(systemd.receive() == "WATCHDOG=1");
        if (where[0] == '/') ::unlink(where.c_str());
    }
}

TEST_CASE("a socket nobody listens on is an error value, not a crash") {
    auto address = parse_notify_socket(temp_path("nobody"));
    REQUIRE(address.ok());
    auto n = Notifier::open(*address, std::nullopt);
    REQUIRE(n.ok());
    Status s = n->send("READY=1");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().where == "READY=1");
}

TEST_CASE("from the environment: read once and unset, so children do not inherit them") {
    std::string where = "@" + temp_path("env");
    auto address = parse_notify_socket(where);
    REQUIRE(address.ok());
    Listener systemd(*address);
    ::setenv("NOTIFY_SOCKET", where.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "500000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    auto n = Notifier::from_environment();
    REQUIRE(n.ok());
    CHECK(n->enabled());
    CHECK(n->watchdog() == std::chrono::microseconds(500000));
    CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
    CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
    CHECK(std::getenv("WATCHDOG_PID") == nullptr);
    REQUIRE(n->send("STOPPING=1").ok());
    CHECK(systemd.receive() == "STOPPING=1");

    auto off = Notifier::from_environment();  // now unset: disabled, sends nothing
    REQUIRE(off.ok());
    CHECK_FALSE(off->enabled());
    CHECK(off->send("READY=1").ok());

    ::setenv("NOTIFY_SOCKET", "vsock:2:9", 1);
    CHECK_FALSE(Notifier::from_environment().ok());
    CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
}

TEST_CASE("MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds") {
    std::string f = monotonic_usec_field();
    REQUIRE(f.rfind("MONOTONIC_USEC=", 0) == 0);
    std::string digits = f.substr(15);
    CHECK_FALSE(digits.empty());
    CHECK(digits.find_first_not_of("0123456789") == std::string::npos);
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
    uint64_t then = std::stoull(digits);
    CHECK(then <= now);
    CHECK(now - then < 5000000u);
}
