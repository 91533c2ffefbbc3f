// Errors of the netlink layer carry the errno as a value (Error.code), from
// the system (system_error) and from the kernel's replies (kernel_error), and
// decisions are taken on that value, never on the words.
#include <doctest/doctest.h>

#include <cerrno>

#include "netlink/error.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/socket.hpp"

using namespace avpn;
using namespace avpn::nl;

TEST_CASE("system_error carries the errno and names it in words") {
    Error e = system_error("open netlink socket", "protocol 0", EACCES);
    CHECK(e.code == EACCES);
    CHECK(e.why == "Permission denied (EACCES)");
}

TEST_CASE("kernel_error carries the reply's errno beside the extack") {
    KernelReply reply;
    reply.error = EEXIST;
    reply.message = "Route exists in table";
    Error e = kernel_error("add route", "10.0.0.0/24 table 7100", reply);
    CHECK(e.code == EEXIST);
    CHECK(e.why == "File exists (EEXIST); kernel: Route exists in table");
}

TEST_CASE("a socket the system refuses reports the system's errno") {
    auto s = Socket::open(99);  // netlink has 32 protocols at most
    REQUIRE_FALSE(s);
    CHECK(s.error().code == EPROTONOSUPPORT);
}

TEST_CASE("a receive that waits past the socket's timeout fails with ETIMEDOUT") {
    auto s = Socket::open(NETLINK_ROUTE, SocketOptions{.timeout_ms = 50});
    REQUIRE(s);
    Status st = s->receive(1, [](const Datagram&) {}, true);  // nothing was asked: nothing comes
    REQUIRE_FALSE(st);
    CHECK(st.error().code == ETIMEDOUT);
}

TEST_CASE("link_kind_unsupported decides on EOPNOTSUPP, not on the words") {
    KernelReply unknown_kind;
    unknown_kind.error = EOPNOTSUPP;
    unknown_kind.message = "Unknown device type";
    CHECK(link_kind_unsupported(kernel_error("add link", "wg0", unknown_kind)));

    KernelReply exists;
    exists.error = EEXIST;
    CHECK_FALSE(link_kind_unsupported(kernel_error("add link", "wg0", exists)));
    CHECK_FALSE(link_kind_unsupported(Error{"add link", "wg0", "Operation not supported; kernel: Unknown device type"}));
}
