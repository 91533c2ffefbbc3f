// Two real wireguard-go daemons, configured only through avpn's UAPI backend,
// pass pings across a veth underlay. Site A lives in this test's own
// namespace; site B in a named namespace made here. UAPI sockets live in the
// global /var/run/wireguard, so interface names carry this process's pid.
// Both endpoints are IPv6, so neither side roams to an address other than the
// configured one (v4 endpoints are covered by the unit tests).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "plugins/wireguard/select.hpp"
#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"
#include "wg_netns_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::netns_test;

namespace {

const std::string kId = std::to_string(getpid());
const std::string kIfA = "avwg" + kId + "a";
const std::string kIfB = "avwg" + kId + "b";
constexpr uint16_t kPortA = 51001, kPortB = 51002;

void skip_unless_runnable() {
    if (run("command -v wireguard-go").code != 0) skip("wireguard-go is not installed");
    if (access("/dev/net/tun", R_OK | W_OK) != 0) skip("/dev/net/tun is missing");
    if (run("command -v ip && command -v ping").code != 0) skip("ip or ping is missing");
}

}  // namespace

TEST_CASE("two wireguard-go sites configured through UAPI pass pings and apply deltas") {
    skip_unless_runnable();
    WorkDir work;
    Underlay underlay(kId);
    underlay.up();

    // A: forced userspace without a socket, so selection starts the daemon.
    DaemonGuard daemon_a(kIfA), daemon_b(kIfB);
    SelectOptions sel_opt;
    sel_opt.wireguard_go.log_path = work.path + "/a.log";
    auto selected = select_backend(kIfA, BackendPreference::userspace, sel_opt);
    REQUIRE_MESSAGE(selected.ok(), (selected.ok() ? "" : selected.error().str()));
    daemon_a.pid = selected->started_daemon;
    REQUIRE(daemon_a.pid);
    WgBackend& uapi = *selected->backend;
    CHECK(uapi.name() == "userspace");
    // B: started straight into its namespace.
    auto pid_b = start_wireguard_go(kIfB, {.log_path = work.path + "/b.log", .netns_path = underlay.netns_path()});
    REQUIRE_MESSAGE(pid_b.ok(), (pid_b.ok() ? "" : pid_b.error().str()));
    daemon_b.pid = *pid_b;
    CHECK(choose_backend(kIfB, BackendPreference::automatic, kUapiSocketDir) == BackendKind::userspace);

    Site a = make_site(kIfA, work.path), b = make_site(kIfB, work.path);
    auto want_a = device_of(a, kPortA, {peer_of(b, {"10.99.0.2/32"}, "[fd00:ab::2]:51002")});
    auto want_b = device_of(b, kPortB, {peer_of(a, {"10.99.0.1/32"}, "[fd00:ab::1]:51001")});
    WgDeviceChange first = apply(uapi, want_a);
    CHECK(first.private_key_ref);
    apply(uapi, want_b);
    sh("ip addr add 10.99.0.1/24 dev " + kIfA + " && ip link set " + kIfA + " up");
    sh(underlay.in_b("addr add 10.99.0.2/24 dev " + kIfB) + " && " + underlay.in_b("link set " + kIfB + " up"));

    CHECK(ping("10.99.0.2"));
    check_observed(uapi, want_a);
    check_observed(uapi, want_b);
    auto stats = uapi.status(kIfA);
    REQUIRE(stats.ok());
    CHECK(stats->device.public_key == a.public_key);
    REQUIRE(stats->peers.size() == 1);
    CHECK(stats->peers[0].last_handshake_sec > 0);
    CHECK(stats->peers[0].rx_bytes > 0);
    CHECK(stats->peers[0].tx_bytes > 0);

    SUBCASE("applying the same state again changes nothing") {
        WgDeviceChange again = apply(uapi, want_a);
        CHECK(again.empty());
    }
    SUBCASE("a changed allowed-ip list and an extra peer apply as a delta; removing the peer too") {
        Site c = make_site(kIfA + "c", work.path);  // a key only; no daemon
        auto grown = device_of(a, kPortA, {peer_of(b, {"10.99.0.2/32", "10.98.0.0/24"}, "[fd00:ab::2]:51002"),
                                           peer_of(c, {"10.97.0.0/24"}, "192.0.2.99:51003")});
        WgDeviceChange delta = apply(uapi, grown);
        CHECK_FALSE(delta.private_key_ref);
        REQUIRE(delta.peers.size() == 2);
        for (const WgPeerChange& p : delta.peers) {
            CHECK(p.replace_allowed_ips);
            CHECK(p.update_only == (p.public_key == b.public_key));
        }
        check_observed(uapi, grown);
        CHECK(ping("10.99.0.2"));

        WgDeviceChange shrink = apply(uapi, want_a);
        REQUIRE(shrink.peers.size() == 2);  // c removed, b's list replaced
        check_observed(uapi, want_a);
        CHECK(ping("10.99.0.2"));
    }
    SUBCASE("a thousand peers in one streamed set, then removed again") {
        nl::WgDevice big = want_a;
        for (int i = 0; i < 1000; ++i) {
            auto k = crypto::generate_private_key();
            auto pub = crypto::public_key(*k);
            nl::WgPeer p{.public_key = crypto::base64_encode(pub->data(), 32)};
            p.allowed_ips.push_back(Prefix::make(IpAddr::v4(0x0b000000u + (uint32_t(i) << 8)), 24));
            big.peers.push_back(p);
        }
        std::sort(big.peers.begin(), big.peers.end(), [](auto& x, auto& y) { return x.public_key < y.public_key; });
        CHECK(apply(uapi, big).peers.size() == 1000);
        check_observed(uapi, big);
        CHECK(apply(uapi, want_a).peers.size() == 1000);
        check_observed(uapi, want_a);
        CHECK(ping("10.99.0.2"));
    }
    SUBCASE("the daemon's own errors come back with their errno text") {
        int busy = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in addr{.sin_family = AF_INET, .sin_port = htons(51009)};
        REQUIRE(bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        WgDeviceChange clash{.ifname = kIfA, .listen_port = 51009};
        Status st = uapi.set(clash);
        close(busy);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().where == kIfA);
        CHECK(st.error().why.find("Address already in use") != std::string::npos);
    }
}
