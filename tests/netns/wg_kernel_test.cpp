// The kernel backend against the running kernel. Without WireGuard in the
// kernel (this project's usual machines) it checks that opening the backend
// fails with the hint to load the module or use userspace, then skips (77).
// With WireGuard (the VM tier: tests/kernel/run-vm) it drives a real
// interface (set, read back, re-apply as a no-op, shrink), and then a kernel
// site and a wireguard-go site, each configured through its own backend from
// the same model, pass pings.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <string>

#include "plugins/wireguard/kernel.hpp"
#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"
#include "wg_netns_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::netns_test;

namespace {

const std::string kId = std::to_string(getpid());
const std::string kIfKernel = "avwgk" + kId;
const std::string kIfUser = "avwgu" + kId;

std::unique_ptr<KernelBackend> open_kernel_or_skip() {
    auto opened = KernelBackend::open();
    if (opened) return std::move(*opened);
    INFO(opened.error().str());
    CHECK(opened.error().why.find("wireguard kernel module") != std::string::npos);
    CHECK(opened.error().where == "wireguard");
    skip("no WireGuard in this kernel (" + opened.error().str() + ")");
}

// Deletes the kernel interface on every exit path.
struct LinkGuard {
    ~LinkGuard() { run("ip link del " + kIfKernel); }
};

}  // namespace

TEST_CASE("kernel backend: set, read back, no-op re-apply, shrink") {
    auto kernel = open_kernel_or_skip();
    WorkDir work;
    LinkGuard link;
    sh("ip link add " + kIfKernel + " type wireguard");
    Site self = make_site(kIfKernel, work.path), x = make_site("x", work.path), y = make_site("y", work.path);
    auto want = device_of(self, 51820, {peer_of(x, {"10.1.0.0/16", "fd00:1::/64"}, "[2001:db8::1]:51820"),
                                        peer_of(y, {"10.2.0.0/16"}, "192.0.2.1:4500")});
    want.fwmark = 0x4156;
    want.peers[0].keepalive_seconds = 25;

    WgDeviceChange first = apply(*kernel, want);
    CHECK(first.private_key_ref);
    check_observed(*kernel, want);
    CHECK(apply(*kernel, want).empty());

    auto shrunk = device_of(self, 51820, {peer_of(x, {"10.9.0.0/16"}, "[2001:db8::1]:51820")});
    shrunk.fwmark = 0x4156;
    apply(*kernel, shrunk);
    check_observed(*kernel, shrunk);
}

TEST_CASE("a kernel site and a wireguard-go site, one model, two backends, pass pings") {
    auto kernel = open_kernel_or_skip();
    run("modprobe tun");
    if (run("command -v wireguard-go").code != 0) skip("wireguard-go is not installed");
    if (access("/dev/net/tun", R_OK | W_OK) != 0) skip("/dev/net/tun is missing");
    WorkDir work;
    Underlay underlay(kId);
    underlay.up();
    LinkGuard link;
    DaemonGuard daemon(kIfUser);
    sh("ip link add " + kIfKernel + " type wireguard");
    auto pid = start_wireguard_go(kIfUser, {.log_path = work.path + "/u.log", .netns_path = underlay.netns_path()});
    REQUIRE_MESSAGE(pid.ok(), (pid.ok() ? "" : pid.error().str()));
    daemon.pid = *pid;
    UapiBackend user;

    Site k = make_site(kIfKernel, work.path), u = make_site(kIfUser, work.path);
    auto want_k = device_of(k, 51011, {peer_of(u, {"10.77.0.2/32"}, "[fd00:ab::2]:51012")});
    auto want_u = device_of(u, 51012, {peer_of(k, {"10.77.0.1/32"}, "[fd00:ab::1]:51011")});
    apply(*kernel, want_k);
    apply(user, want_u);
    sh("ip addr add 10.77.0.1/24 dev " + kIfKernel + " && ip link set " + kIfKernel + " up");
    sh(underlay.in_b("addr add 10.77.0.2/24 dev " + kIfUser) + " && " + underlay.in_b("link set " + kIfUser + " up"));

    CHECK(ping("10.77.0.2"));
    check_observed(*kernel, want_k);
    check_observed(user, want_u);
    auto stats = kernel->status(kIfKernel);
    REQUIRE(stats.ok());
    REQUIRE(stats->peers.size() == 1);
    CHECK(stats->peers[0].last_handshake_sec > 0);
    CHECK(stats->peers[0].rx_bytes > 0);
}
