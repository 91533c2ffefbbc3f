// The ESP-in-UDP socket of an XFRM group (plugins/keying/esp_socket.hpp) and
// its ownership by the site runtime (runtime/esp_sockets.hpp, runtime::Site),
// against the real kernel in a namespace of the test's own.
// - The socket: bound to the port, UDP_ENCAP_ESPINUDP read back with
//   getsockopt, close-on-exec; a datagram with the non-ESP marker reaches
//   receive() with its sender, an ESP-looking one does not (the kernel took
//   it), while a plain socket gets both (so the test can tell); IPv6 beside
//   IPv4 on one port; closing frees the port; a port in use is EADDRINUSE.
// - The runtime: a port held by someone else fails the converge before the
//   kernel is written, naming group, place, port and errno, and holds
//   nothing. Then, where the kernel has XFRM interfaces and ESP (the VM
//   tier), the socket is held from the first apply, the same socket across
//   converges, moved when another file changes the group's port, and closed
//   at down; where it has not (this host), the failed apply closes the
//   socket it opened.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "orchestrator/runtime/esp_sockets.hpp"
#include "orchestrator/runtime/site.hpp"
#include "plugins/keying/esp_socket.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using nl::netns::must;
using nl::netns::sh;

namespace {

// A plain UDP socket on 127.0.0.1:port (0: any), or -1.
int plain_udp(uint16_t port, int af = AF_INET) {
    int fd = ::socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    if (af == AF_INET) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        int one = 1;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_loopback;
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

uint16_t local_port(int fd) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    return a.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
                                   : ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
}

void send_to(int fd, uint16_t port, const std::string& bytes, int af = AF_INET) {
    ssize_t n;
    if (af == AF_INET) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_loopback;
        n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    REQUIRE(n == ssize_t(bytes.size()));
}

bool readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
}

// Whether some socket of this namespace has UDP port `port` bound
// (/proc/net/udp and udp6: "sl local_address:PORT ...", port in hex).
bool port_bound(uint16_t port) {
    char hex[8];
    std::snprintf(hex, sizeof hex, ":%04X", port);
    for (const char* f : {"/proc/net/udp", "/proc/net/udp6"}) {
        std::ifstream in(f);
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            std::istringstream l(line);
            std::string sl, local;
            l >> sl >> local;
            if (local.size() >= 5 && local.compare(local.size() - 5, 5, hex) == 0) return true;
        }
    }
    return false;
}

const std::string kEspLooking = std::string("\x41\x56\x00\x01", 4) + std::string(12, '\x07');  // SPI 0x41560001
const std::string kMarked = std::string(4, '\0') + "avpn-hello";                                 // non-ESP marker

}  // namespace

TEST_CASE("the ESP-in-UDP socket: bound, encapsulating, close-on-exec; only non-ESP datagrams reach it") {
    auto s = keying::EspSocket::open(Family::v4, 4500);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
    CHECK(port_bound(4500));
    CHECK(s->port() == 4500);
    int encap = -1;
    socklen_t len = sizeof encap;
    REQUIRE(::getsockopt(s->fd(), IPPROTO_UDP, UDP_ENCAP, &encap, &len) == 0);
    CHECK(encap == UDP_ENCAP_ESPINUDP);
    CHECK((::fcntl(s->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(s->fd(), F_GETFL) & O_NONBLOCK) != 0);

    int sender = plain_udp(0);
    REQUIRE(sender >= 0);
    // A plain socket gets both datagrams: what the ESP socket does not get
    // below is the kernel's doing, not a lost packet.
    int plain = plain_udp(4501);
    REQUIRE(plain >= 0);
    send_to(sender, 4501, kEspLooking);
    send_to(sender, 4501, kMarked);
    char buf[64];
    REQUIRE(readable(plain, 1000));
    CHECK(::recv(plain, buf, sizeof buf, 0) == ssize_t(kEspLooking.size()));
    REQUIRE(readable(plain, 1000));
    CHECK(::recv(plain, buf, sizeof buf, 0) == ssize_t(kMarked.size()));
    ::close(plain);

    send_to(sender, 4500, kEspLooking);
    send_to(sender, 4500, kMarked);
    REQUIRE(readable(s->fd(), 1000));
    auto d = s->receive();
    REQUIRE(d.ok());
    REQUIRE(d->has_value());
    CHECK(std::string((*d)->bytes.begin(), (*d)->bytes.end()) == kMarked);  // the ESP one never came
    CHECK((*d)->from.str() == "127.0.0.1:" + std::to_string(local_port(sender)));
    auto none = s->receive();
    REQUIRE(none.ok());
    CHECK(!none->has_value());
    ::close(sender);

    // IPv6 on the same port beside it, with the same encapsulation.
    auto s6 = keying::EspSocket::open(Family::v6, 4500);
    REQUIRE_MESSAGE(s6.ok(), (s6.ok() ? "" : s6.error().str()));
    int sender6 = plain_udp(0, AF_INET6);
    REQUIRE(sender6 >= 0);
    send_to(sender6, 4500, kEspLooking, AF_INET6);
    send_to(sender6, 4500, kMarked, AF_INET6);
    REQUIRE(readable(s6->fd(), 1000));
    auto d6 = s6->receive();
    REQUIRE(d6.ok());
    REQUIRE(d6->has_value());
    CHECK(std::string((*d6)->bytes.begin(), (*d6)->bytes.end()) == kMarked);
    CHECK((*d6)->from.addr.str() == "::1");
    ::close(sender6);
}

TEST_CASE("a send from a given source address leaves from it (IP_PKTINFO); without one the kernel chooses") {
    // The key exchange sends from the SAs' local address (runtime::Site::
    // keying_source): a peer roams its SAs to wherever they come from.
    auto s = keying::EspSocket::open(Family::v4, 4500);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
    int plain = plain_udp(4501);
    REQUIRE(plain >= 0);
    const std::vector<uint8_t> bytes(kMarked.begin(), kMarked.end());
    auto from_of_next = [&] {
        sockaddr_in a{};
        socklen_t len = sizeof a;
        char buf[64];
        REQUIRE(readable(plain, 1000));
        REQUIRE(::recvfrom(plain, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), &len) > 0);
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        CHECK(ntohs(a.sin_port) == 4500);  // from the group's port either way
        return std::string(text);
    };
    const Endpoint to{*IpAddr::parse("127.0.0.1"), 4501};
    REQUIRE(s->send(to, bytes, *IpAddr::parse("127.0.0.2")).ok());
    CHECK(from_of_next() == "127.0.0.2");
    REQUIRE(s->send(to, bytes).ok());
    CHECK(from_of_next() == "127.0.0.1");
    // A source of the other family is no source: the kernel chooses.
    REQUIRE(s->send(to, bytes, *IpAddr::parse("::1")).ok());
    CHECK(from_of_next() == "127.0.0.1");
    ::close(plain);
}

TEST_CASE("closing frees the port; a port in use is EADDRINUSE, and a failed open holds nothing") {
    {
        auto s = keying::EspSocket::open(Family::v4, 4600);
        REQUIRE(s.ok());
        CHECK(port_bound(4600));
    }
    CHECK(!port_bound(4600));

    int squatter = plain_udp(4601);
    REQUIRE(squatter >= 0);
    auto busy = keying::EspSocket::open(Family::v4, 4601);
    REQUIRE(!busy.ok());
    CHECK(busy.error().code == EADDRINUSE);

    // Two groups; the second's port is taken: the error names it, and the
    // first group's socket, opened by the same call, is closed again.
    runtime::EspSockets sockets;
    std::vector<runtime::EspSocketWant> want = {{"a", 4600, Family::v4, "/etc/avpn/site.toml:9:1"},
                                                {"b", 4601, Family::v4, "/etc/avpn/site.toml:20:1"}};
    Status st = sockets.open(want);
    REQUIRE(!st.ok());
    CHECK(st.error().code == EADDRINUSE);
    CHECK(st.error().where == "/etc/avpn/site.toml:20:1");
    CHECK(st.error().str().find("group \"b\" (transport = \"xfrm\")") != std::string::npos);
    CHECK(st.error().str().find("UDP port 4601 (IPv4)") != std::string::npos);
    CHECK(st.error().str().find("another socket holds the port") != std::string::npos);
    CHECK(sockets.held().empty());
    CHECK(!port_bound(4600));
    ::close(squatter);

    REQUIRE(sockets.open(want).ok());
    CHECK(sockets.held().size() == 2);
    sockets.keep_only({want[1]});
    CHECK(!port_bound(4600));
    CHECK(port_bound(4601));
    sockets.close_all();
    CHECK(!port_bound(4601));
}

namespace {

struct XfrmHub {
    std::string dir;
    XfrmHub() {
        char tmpl[] = "/tmp/avpn-esp-socket.XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        const char* src = std::getenv("AVPN_SOURCE_DIR");
        REQUIRE_MESSAGE(src, "AVPN_SOURCE_DIR is not set");
        must("cp -r " + std::string(src) + "/examples/netns-demo/. " + dir + "/ && chmod 600 " + dir +
             "/keys/*.key && sed -i 's/^transport = .*/transport = \"xfrm\"/' " + dir +
             "/members.toml && sed -i '/^wireguard_backend = /d' " + dir + "/sites/hq.toml && grep -q '^transport = \"xfrm\"' " +
             dir + "/members.toml && mkdir " + dir + "/state");
        must("ip link add wan0 type veth peer name wan0p && ip addr add 192.0.2.1/24 dev wan0 && ip link set wan0 up && "
             "ip link set wan0p up");
    }
    ~XfrmHub() {
        sh("ip link del wan0");
        sh("rm -rf " + dir);
    }
};

// avpn's objects in this namespace, as text: a write shows here.
std::string avpn_objects() {
    return sh("ip -d link show; ip rule show; ip route show table all proto 147; ip xfrm policy list; "
              "ip xfrm state list");
}

bool xfrm_kernel() {
    int rc = 0;
    sh("ip link add avpn-xprobe type xfrm if_id 1", &rc);
    if (rc != 0) return false;
    sh("ip link del avpn-xprobe");
    sh("ip xfrm state add src 192.0.2.9 dst 192.0.2.8 proto esp spi 0x100 reqid 1 mode tunnel "
       "aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128",
       &rc);
    sh("ip xfrm state flush");
    return rc == 0;
}

}  // namespace

TEST_CASE("the site runtime holds an XFRM group's socket: refused before any write when the port is taken") {
    XfrmHub hub;
    std::vector<std::string> log;
    auto site = runtime::Site::open({.config = hub.dir + "/sites/hq.toml",
                                     .state_dir = hub.dir + "/state",
                                     .vici_socket = hub.dir + "/no-charon.vici"},
                                    [&](const std::string& l) { log.push_back(l); });
    REQUIRE_MESSAGE(site.ok(), (site.ok() ? "" : site.error().str()));
    runtime::Site& s = **site;
    CHECK(s.esp_sockets().empty());  // opened by a converge, not by open()

    // Someone else has the group's port (the demo's 51820).
    int squatter = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_port = htons(51820);
    REQUIRE(::bind(squatter, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
    const std::string before = avpn_objects();
    runtime::ConvergeReport r = s.converge_report(true, "test");
    CHECK(!r.ok);
    REQUIRE(r.applied);
    REQUIRE(r.applied->refused);
    CHECK(r.applied->refused->code == EADDRINUSE);
    const std::string msg = r.applied->refused->str();
    CHECK_MESSAGE(msg.find("group \"demo\" (transport = \"xfrm\")") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("UDP port 51820 (IPv4)") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find(hub.dir + "/sites/hq.toml:") == 0, msg);  // the group's place
    CHECK(r.applied->kernel.ops.empty());
    CHECK(avpn_objects() == before);  // nothing was written, so nothing had to be undone
    CHECK(s.esp_sockets().empty());
    ::close(squatter);
    CHECK(!port_bound(51820));

    log.clear();
    r = s.converge_report(true, "test");
    bool held_logged = false, closed_logged = false;
    for (const std::string& l : log) {
        held_logged = held_logged || l == "esp-in-udp: holding UDP port 51820 (IPv4) of group \"demo\"";
        closed_logged = closed_logged || l == "esp-in-udp: closed UDP port 51820 (IPv4) of group \"demo\"";
    }
    CHECK(held_logged);
    if (!xfrm_kernel()) {
        // This host: the XFRM interface cannot be made, the apply fails and
        // is undone, and the socket it opened is closed again.
        MESSAGE("no XFRM interfaces or ESP here: the apply fails; the VM tier runs the rest");
        CHECK(!r.ok);
        CHECK(closed_logged);
        CHECK(s.esp_sockets().empty());
        CHECK(!port_bound(51820));
        return;
    }
    REQUIRE_MESSAGE(r.ok, r.line);
    CHECK(!closed_logged);
    REQUIRE(s.esp_sockets().size() == 1);
    CHECK(port_bound(51820));
    // The same socket across converges: a second one could not bind anyway,
    // so the port staying bound with nothing logged is the proof.
    log.clear();
    r = s.converge_report(true, "again");
    CHECK(r.ok);
    for (const std::string& l : log) CHECK_MESSAGE(l.rfind("esp-in-udp:", 0) != 0, l);  // none opened or closed
    CHECK(port_bound(51820));

    // Another file moves the group to another port: the new one is held
    // and the old one closed by the same apply.
    const std::string moved = hub.dir + "/sites/hq-port.toml";
    must("cp " + hub.dir + "/sites/hq.toml " + moved + " && sed -i '/^group = \"demo\"/a listen_port = 51900' " + moved +
         " && grep -q '^listen_port = 51900' " + moved);
    runtime::ChangeReport c = s.apply_file(moved, 0);
    REQUIRE_MESSAGE(c.ok(), (c.converge ? c.converge->line : "the file has errors"));
    REQUIRE(s.esp_sockets().size() == 1);
    CHECK(s.esp_sockets()[0].port == 51900);
    CHECK(port_bound(51900));
    CHECK(!port_bound(51820));

    runtime::DownReport d = s.down();
    CHECK(d.ok());
    CHECK(s.esp_sockets().empty());
    CHECK(!port_bound(51900));
}
