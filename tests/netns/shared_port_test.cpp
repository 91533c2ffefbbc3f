// avpn's control datagrams on a WireGuard port that wireguard-go holds
// (plugins/registry/shared_port.hpp), against the real kernel and a real
// wireguard-go in a namespace of the test's own:
// - sent from the shared port, a datagram reaches a plain UDP socket (the
//   registry's stand-in) with source port 51820 although wireguard-go owns
//   that port, over IPv4 and IPv6;
// - the answer to 51820 reaches receive() with its sender, while a datagram
//   to 51820 without avpn's header, and one with it to another port, do not
//   (the BPF filter; the plain socket on the other port shows they came);
// - wireguard-go keeps working through it all: a handshake with a second
//   wireguard-go completes after the avpn datagrams it was also handed.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/sockaddr.hpp"
#include "plugins/keying/handshake_wire.hpp"
#include "plugins/registry/shared_port.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using nl::netns::must;
using nl::netns::sh;

namespace {

constexpr uint16_t kWgPort = 51820;

bool readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
}

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

// A plain UDP socket bound to `at`; the test closes it.
int plain_udp(const Endpoint& at) {
    int fd = ::socket(at.addr.af(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    if (at.addr.family == Family::v6) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    sockaddr_storage sa;
    socklen_t len = to_sockaddr(at, sa);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) == 0);
    return fd;
}

// What a plain socket reads, with its sender.
std::pair<Endpoint, std::string> read_plain(int fd) {
    char buf[2048];
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    REQUIRE(n >= 0);
    return {*from_sockaddr(from), std::string(buf, size_t(n))};
}

void send_plain(int fd, const Endpoint& to, const std::string& bytes) {
    sockaddr_storage sa;
    socklen_t len = to_sockaddr(to, sa);
    REQUIRE(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&sa), len) == ssize_t(bytes.size()));
}

// An avpn control datagram: the non-ESP marker, a registry type, "avp", a body.
std::string avpn_datagram(const std::string& body) {
    std::string d("\0\0\0\0\x10", 5);
    d.append(reinterpret_cast<const char*>(keying::kMagic), 3);
    return d + body;
}

// wireguard-go on an interface, removed (and so stopped) at scope exit.
struct WireguardGo {
    std::string ifname;
    explicit WireguardGo(std::string name, uint16_t port, const std::string& dir) : ifname(std::move(name)) {
        must("wireguard-go " + ifname);
        must("wg genkey > " + dir + "/" + ifname + ".key && chmod 600 " + dir + "/" + ifname + ".key");
        must("wg set " + ifname + " listen-port " + std::to_string(port) + " private-key " + dir + "/" + ifname + ".key");
        must("ip link set " + ifname + " up");
    }
    ~WireguardGo() { sh("ip link del " + ifname); }
    std::string public_key() const { return sh("wg show " + ifname + " public-key").substr(0, 44); }
};

}  // namespace

TEST_CASE("avpn datagrams share wireguard-go's port: sent from it, answers read from it, the rest left to WireGuard") {
    nl::netns::skip_unless("command -v wireguard-go && command -v wg", "", "wireguard-go and wg are needed");
    must("ip link set lo up");
    char tmpl[] = "/tmp/avpn-shared-port.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    {
        WireguardGo wg0("avpnsh0", kWgPort, dir);
        WireguardGo wg1("avpnsh1", kWgPort + 1, dir);
        const std::string holders = sh("ss -Huanp 'sport = :51820'");
        INFO("UDP 51820: " << holders);
        REQUIRE(holders.find("wireguard-go") != std::string::npos);

        for (const char* family : {"IPv4", "IPv6"}) {
            CAPTURE(family);
            const bool v4 = std::string(family) == "IPv4";
            const Endpoint registry = ep(v4 ? "127.0.0.1:9350" : "[::1]:9350");
            const Endpoint other = ep(v4 ? "127.0.0.1:51830" : "[::1]:51830");
            const Endpoint wg_port = ep(v4 ? "127.0.0.1:51820" : "[::1]:51820");
            auto port = registry::SharedPort::open(v4 ? Family::v4 : Family::v6, kWgPort);
            INFO("open: " << (port.ok() ? std::string("ok") : port.error().str()));
            REQUIRE(port.ok());
            int reg = plain_udp(registry);
            int oth = plain_udp(other);

            // Out: from the port wireguard-go holds.
            const std::string hello = avpn_datagram("register");
            REQUIRE(port->send(registry, std::vector<uint8_t>(hello.begin(), hello.end())).ok());
            REQUIRE(readable(reg, 2000));
            auto [sender, got] = read_plain(reg);
            CHECK(sender.port == kWgPort);
            CHECK(sender.addr == registry.addr);
            CHECK(got == hello);

            // In: the answer to 51820 comes to receive(), with its sender.
            const std::string answer = avpn_datagram("registered");
            send_plain(reg, wg_port, answer);
            REQUIRE(readable(port->fd(), 2000));
            auto d = port->receive();
            REQUIRE(d.ok());
            REQUIRE(d->has_value());
            CHECK((*d)->from == registry);
            CHECK(std::string((*d)->bytes.begin(), (*d)->bytes.end()) == answer);

            // Not for avpn: no header (WireGuard's own traffic), or another port.
            send_plain(reg, wg_port, std::string("\x01\x00\x00\x00", 4) + "a WireGuard initiation");
            send_plain(reg, wg_port, std::string("\0\0\0\0\x10xyz", 8) + "marker, not avpn's magic");
            send_plain(reg, wg_port, std::string("\0\0\0\0\x10" "avq", 8) + "two thirds of the magic");
            send_plain(reg, wg_port, std::string("\0\0\0\x01\x10" "avp", 8) + "no marker");
            send_plain(reg, other, avpn_datagram("to another port"));
            REQUIRE(readable(oth, 2000));  // it was sent and delivered, to the plain socket
            (void)read_plain(oth);
            CHECK_FALSE(readable(port->fd(), 300));
            auto none = port->receive();
            REQUIRE(none.ok());
            CHECK_FALSE(none->has_value());
            ::close(reg);
            ::close(oth);
        }

        // wireguard-go was handed the avpn datagrams too and dropped them;
        // it still completes a handshake on its port.
        must("wg set avpnsh0 peer " + wg1.public_key() + " endpoint 127.0.0.1:51821 persistent-keepalive 1");
        must("wg set avpnsh1 peer " + wg0.public_key() + " endpoint 127.0.0.1:51820 persistent-keepalive 1");
        std::string hs;
        for (int i = 0; i < 50; ++i) {
            hs = sh("wg show avpnsh0 latest-handshakes");
            if (hs.find('\t') != std::string::npos && hs.substr(hs.find('\t') + 1, 1) != "0") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        INFO("wg show avpnsh0 latest-handshakes: " << hs);
        CHECK((hs.find('\t') != std::string::npos && hs.substr(hs.find('\t') + 1, 1) != "0"));
    }
    sh("rm -rf " + dir);
}

TEST_CASE("a shared port refuses a destination of the other family") {
    auto port = registry::SharedPort::open(Family::v4, kWgPort);
    REQUIRE(port.ok());
    auto st = port->send(ep("[::1]:9350"), {0, 0, 0, 0});
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == EAFNOSUPPORT);
}
