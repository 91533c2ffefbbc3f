// Two real wireguard-go daemons, configured only through avpn's UAPI backend,
// pass pings across a veth underlay. Site A lives in this test's own
// namespace; site B in a named namespace made here. UAPI sockets live in the
// global /var/run/wireguard, so interface names carry this process's pid.
// Both endpoints are IPv6, so neither side roams to an address other than the
// configured one (v4 endpoints are covered by the unit tests).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "plugins/wireguard/select.hpp"
#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"

using namespace avpn;
using namespace avpn::wg;

namespace {

const std::string kId = std::to_string(getpid());
const std::string kIfA = "avwg" + kId + "a";
const std::string kIfB = "avwg" + kId + "b";
const std::string kNetns = "avpn-wg-" + kId;
constexpr uint16_t kPortA = 51001, kPortB = 51002;

// Runs a shell command; its output is kept for the failure message.
struct Run {
    int code = -1;
    std::string output;
};
Run run(const std::string& cmd) {
    Run r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}
void sh(const std::string& cmd) {
    Run r = run(cmd);
    INFO(cmd, "\n", r.output);
    REQUIRE(r.code == 0);
}

void skip_unless_runnable() {
    const char* why = nullptr;
    if (run("command -v wireguard-go").code != 0) why = "wireguard-go is not installed";
    else if (access("/dev/net/tun", R_OK | W_OK) != 0) why = "/dev/net/tun is missing";
    else if (run("command -v ip && command -v ping").code != 0) why = "ip or ping is missing";
    if (!why) return;
    std::printf("SKIP: %s\n", why);
    std::exit(77);
}

// Removes the underlay and the named namespace on every exit path. The veth
// goes first and explicitly: namespace teardown is asynchronous, and the next
// subcase reuses the names.
struct TopologyGuard {
    ~TopologyGuard() {
        run("ip link del avwv" + kId);
        run("ip netns del " + kNetns);
    }
};

// Stops a daemon this test started and removes a socket it may leave.
struct DaemonGuard {
    DaemonGuard(std::string i) : ifname(std::move(i)) {}
    ~DaemonGuard() {
        if (pid) (void)stop_wireguard_go(*pid);
        unlink(uapi_socket_path(kUapiSocketDir, ifname).c_str());
    }
    std::string ifname;
    std::optional<pid_t> pid;
};

struct Site {
    std::string ifname;
    std::string key_file;
    std::string public_key;
};

Site make_site(const std::string& ifname, const std::string& dir) {
    auto priv = crypto::generate_private_key();
    REQUIRE(priv.ok());
    auto pub = crypto::public_key(*priv);
    REQUIRE(pub.ok());
    Site s{ifname, dir + "/" + ifname + ".key", crypto::base64_encode(pub->data(), 32)};
    int fd = open(s.key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string text = crypto::base64_encode(priv->data(), 32) + "\n";
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    crypto::wipe(priv->data(), priv->size());
    return s;
}

nl::WgPeer peer_of(const Site& s, std::vector<const char*> ips, const char* endpoint) {
    nl::WgPeer p{.public_key = s.public_key, .endpoint = Endpoint::parse(endpoint)};
    for (const char* ip : ips) p.allowed_ips.push_back(*Prefix::parse(ip));
    std::sort(p.allowed_ips.begin(), p.allowed_ips.end());
    return p;
}

nl::WgDevice device_of(const Site& s, uint16_t port, std::vector<nl::WgPeer> peers) {
    nl::WgDevice d{.ifname = s.ifname, .public_key = s.public_key, .listen_port = port, .peers = std::move(peers)};
    d.private_key.private_key_file = s.key_file;
    std::sort(d.peers.begin(), d.peers.end(), [](auto& a, auto& b) { return a.public_key < b.public_key; });
    return d;
}

// get + diff + set, as an apply does; returns the change it applied.
WgDeviceChange apply(WgBackend& backend, const nl::WgDevice& desired) {
    auto observed = backend.get(desired.ifname);
    REQUIRE_MESSAGE(observed.ok(), (observed.ok() ? "" : observed.error().str()));
    WgDeviceChange change = diff(desired, *observed);
    Status st = backend.set(change);
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    return change;
}

void check_observed(WgBackend& backend, const nl::WgDevice& desired) {
    auto got = backend.get(desired.ifname);
    REQUIRE_MESSAGE(got.ok(), (got.ok() ? "" : got.error().str()));
    nl::WgDevice want = desired;
    want.private_key = {};  // never read back
    CHECK(*got == want);
}

bool ping(const std::string& addr) {
    for (int i = 0; i < 10; ++i)
        if (run("ping -c1 -W1 " + addr).code == 0) return true;
    return false;
}

}  // namespace

TEST_CASE("two wireguard-go sites configured through UAPI pass pings and apply deltas") {
    skip_unless_runnable();
    char tmpl[] = "/tmp/avpn-wg-netns-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    const std::string work = tmpl;

    TopologyGuard topology;
    sh("ip netns add " + kNetns);
    sh("ip -n " + kNetns + " link set lo up");
    sh("ip link add avwv" + kId + " type veth peer name underlay netns " + kNetns);
    sh("ip addr add 192.0.2.1/24 dev avwv" + kId);
    sh("ip addr add fd00:ab::1/64 dev avwv" + kId + " nodad");
    sh("ip link set avwv" + kId + " up");
    sh("ip -n " + kNetns + " addr add 192.0.2.2/24 dev underlay");
    sh("ip -n " + kNetns + " addr add fd00:ab::2/64 dev underlay nodad");
    sh("ip -n " + kNetns + " link set underlay up");

    // A: forced userspace without a socket, so selection starts the daemon.
    DaemonGuard daemon_a(kIfA), daemon_b(kIfB);
    SelectOptions sel_opt;
    sel_opt.wireguard_go.log_path = work + "/a.log";
    auto selected = select_backend(kIfA, BackendPreference::userspace, sel_opt);
    REQUIRE_MESSAGE(selected.ok(), (selected.ok() ? "" : selected.error().str()));
    daemon_a.pid = selected->started_daemon;
    REQUIRE(daemon_a.pid);
    WgBackend& uapi = *selected->backend;
    CHECK(uapi.name() == "userspace");
    // B: started straight into its namespace.
    auto pid_b = start_wireguard_go(kIfB, {.log_path = work + "/b.log", .netns_path = "/var/run/netns/" + kNetns});
    REQUIRE_MESSAGE(pid_b.ok(), (pid_b.ok() ? "" : pid_b.error().str()));
    daemon_b.pid = *pid_b;
    CHECK(choose_backend(kIfB, BackendPreference::automatic, kUapiSocketDir) == BackendKind::userspace);

    Site a = make_site(kIfA, work), b = make_site(kIfB, work);
    auto want_a = device_of(a, kPortA, {peer_of(b, {"10.99.0.2/32"}, "[fd00:ab::2]:51002")});
    auto want_b = device_of(b, kPortB, {peer_of(a, {"10.99.0.1/32"}, "[fd00:ab::1]:51001")});
    WgDeviceChange first = apply(uapi, want_a);
    CHECK(first.private_key_ref);
    apply(uapi, want_b);
    sh("ip addr add 10.99.0.1/24 dev " + kIfA + " && ip link set " + kIfA + " up");
    sh("ip -n " + kNetns + " addr add 10.99.0.2/24 dev " + kIfB + " && ip -n " + kNetns + " link set " + kIfB + " up");

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
        Site c = make_site(kIfA + "c", work);  // a key only; no daemon
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
    run("rm -rf " + work);
}
