// ctnetlink (netlink/conntrack.hpp) against this machine's kernel: UDP
// datagrams over loopback make entries (an nftables rule that reads ct state
// makes the namespace track); the dump returns them with both tuples and an
// id and nothing of TCP or the other family; a delete by the original tuple
// removes exactly that entry; a second delete, or one carrying another id,
// is ENOENT.
#include "tests/netns/netlink_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "netlink/conntrack.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

// One datagram from 127.0.0.1:from to 127.0.0.1:to.
void send_udp(uint16_t from, uint16_t to) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(from);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    a.sin_port = htons(to);
    REQUIRE(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 1);
    close(fd);
}

std::vector<CtEntry> from_port(Socket& s, uint16_t port) {
    auto all = dump_conntrack_udp(s, Family::v4, [&](const CtEntry& e) { return e.orig.sport == port; });
    REQUIRE(all.ok());
    return *all;
}

}  // namespace

TEST_CASE("conntrack: dump and delete UDP entries of the real kernel") {
    must("ip link set lo up");
    // Conntrack runs in a namespace once a rule needs it.
    must("nft add table inet avpn_ct_test");
    must("nft 'add chain inet avpn_ct_test out { type filter hook output priority 0; }'");
    must("nft add rule inet avpn_ct_test out ct state new counter");
    Socket s = open_socket(NETLINK_NETFILTER);
    auto before = dump_conntrack_udp(s, Family::v4);
    REQUIRE(before.ok());

    send_udp(51820, 51821);
    send_udp(40000, 51821);
    must("python3 -c 'import socket; s=socket.create_connection((\"127.0.0.1\", 1), 1)' || true");  // a TCP entry
    auto tunnel = from_port(s, 51820);
    REQUIRE(tunnel.size() == 1);
    const CtEntry e = tunnel[0];
    CHECK(e.l4proto == IPPROTO_UDP);
    CHECK(e.orig.str() == "127.0.0.1:51820 -> 127.0.0.1:51821");
    CHECK(e.reply.str() == "127.0.0.1:51821 -> 127.0.0.1:51820");
    CHECK(e.id.has_value());
    auto all = dump_conntrack_udp(s, Family::v4);
    REQUIRE(all.ok());
    CHECK(std::all_of(all->begin(), all->end(), [](const CtEntry& x) { return x.l4proto == IPPROTO_UDP; }));
    auto v6 = dump_conntrack_udp(s, Family::v6);
    REQUIRE(v6.ok());
    CHECK(v6->empty());

    CtEntry other_id = e;
    *other_id.id += 1;
    Status wrong = delete_conntrack(s, other_id);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ENOENT);
    CHECK(from_port(s, 51820).size() == 1);

    Status del = delete_conntrack(s, e);
    REQUIRE_MESSAGE(del.ok(), std::string(del.ok() ? "" : del.error().str()));
    CHECK(from_port(s, 51820).empty());
    CHECK(from_port(s, 40000).size() == 1);  // the other flow to the same port stays
    Status again = delete_conntrack(s, e);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ENOENT);
    must("nft delete table inet avpn_ct_test");
}
