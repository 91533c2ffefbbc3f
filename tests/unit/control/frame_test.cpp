// Frames are bounded in size and in time: an oversized announcement is
// refused before its bytes are read, and a peer that stops half-way cannot
// hold the reader past its timeout.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "orchestrator/control/frame.hpp"

using namespace avpn::control;
using avpn::Status;

namespace {

struct Pair {
    int a = -1, b = -1;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        a = fds[0];
        b = fds[1];
    }
    ~Pair() {
        if (a >= 0) ::close(a);
        if (b >= 0) ::close(b);
    }
};

}  // namespace

TEST_CASE("a frame goes through, also one larger than the socket buffer") {
    Pair p;
    std::string big(1 << 20, 'x');
    // More than the socket buffer holds: a child writes while this reads.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(p.a);
        _exit(write_frame(p.b, big, 5000).ok() ? 0 : 1);
    }
    auto got = read_frame(p.a, 2 << 20, 5000);
    REQUIRE(got.ok());
    CHECK(*got == big);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(status == 0);
}

TEST_CASE("an oversized frame is refused from its length alone") {
    Pair p;
    const char head[4] = {0x7f, 0, 0, 0};
    REQUIRE(::write(p.b, head, 4) == 4);
    auto got = read_frame(p.a, 16 * 1024, 1000);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().what == "too large");
    CHECK(got.error().code == EMSGSIZE);
}

TEST_CASE("half a frame: a timeout, not a hang; a close: closed") {
    Pair p;
    const char part[6] = {0, 0, 0, 10, 'a', 'b'};
    REQUIRE(::write(p.b, part, 6) == 6);
    auto t0 = std::chrono::steady_clock::now();
    auto got = read_frame(p.a, 1024, 200);
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().what == "timeout");
    CHECK(got.error().code == ETIMEDOUT);
    CHECK(took < std::chrono::seconds(2));

    ::close(p.b);
    p.b = -1;
    Pair q;
    REQUIRE(::write(q.b, part, 6) == 6);
    ::close(q.b);
    q.b = -1;
    auto closed = read_frame(q.a, 1024, 1000);
    REQUIRE_FALSE(closed.ok());
    CHECK(closed.error().what == "closed");
}

TEST_CASE("writing to a peer that went away is an error, not SIGPIPE") {
    Pair p;
    ::close(p.a);
    p.a = -1;
    Status s = write_frame(p.b, "hello", 1000);
    CHECK_FALSE(s.ok());
}
