#include "wg_netns_util.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"

namespace avpn::wg::netns_test {

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

void skip(const std::string& why) {
    std::printf("SKIP: %s\n", why.c_str());
    std::exit(77);
}

Underlay::Underlay(std::string id) : veth_("avwv" + id), netns_("avpn-wg-" + id) {}

Underlay::~Underlay() {
    run("ip link del " + veth_);
    run("ip netns del " + netns_);
}

void Underlay::up() {
    sh("ip netns add " + netns_);
    sh(in_b("link set lo up"));
    sh("ip link add " + veth_ + " type veth peer name underlay netns " + netns_);
    sh("ip addr add 192.0.2.1/24 dev " + veth_);
    sh("ip addr add fd00:ab::1/64 dev " + veth_ + " nodad");
    sh("ip link set " + veth_ + " up");
    sh(in_b("addr add 192.0.2.2/24 dev underlay"));
    sh(in_b("addr add fd00:ab::2/64 dev underlay nodad"));
    sh(in_b("link set underlay up"));
}

DaemonGuard::~DaemonGuard() {
    if (pid) (void)stop_wireguard_go(*pid);
    unlink(uapi_socket_path(kUapiSocketDir, ifname).c_str());
}

Site make_site(const std::string& ifname, const std::string& dir) {
    auto priv = crypto::generate_private_key();
    REQUIRE(priv.ok());
    auto pub = crypto::public_key(*priv);
    REQUIRE(pub.ok());
    Site s{ifname, dir + "/" + ifname + ".key", crypto::base64_encode(pub->data(), 32)};
    int fd = open(s.key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::string text = crypto::base64_encode(priv->data(), 32) + "\n";
    bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    crypto::wipe(priv->data(), priv->size());
    crypto::wipe(text.data(), text.size());
    REQUIRE(written);
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

WorkDir::WorkDir() {
    char tmpl[] = "/tmp/avpn-wg-netns-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
    REQUIRE(!path.empty());
}

WorkDir::~WorkDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace avpn::wg::netns_test
