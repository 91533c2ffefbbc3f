// Shared pieces of the WireGuard namespace tests: shell commands with their
// output kept for failure messages, a two-namespace underlay, guards that
// clean up on every exit path, sites with key files, and apply-as-avpn-does.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "plugins/wireguard/backend.hpp"

namespace avpn::wg::netns_test {

struct Run {
    int code = -1;
    std::string output;
};
Run run(const std::string& cmd);
void sh(const std::string& cmd);  // REQUIREs success, shows the output otherwise
[[noreturn]] void skip(const std::string& why);  // prints SKIP and exits 77

// This test's own namespace ("here", site A) and a named namespace (site B)
// joined by a veth: 192.0.2.1/24 + fd00:ab::1/64 here, .2 / ::2 there. The
// destructor removes both, the veth first (namespace teardown is
// asynchronous, and a doctest subcase reruns the setup with the same names).
class Underlay {
public:
    explicit Underlay(std::string id);
    ~Underlay();
    void up();  // REQUIREs: call after construction so cleanup always runs
    const std::string& netns() const { return netns_; }
    std::string netns_path() const { return "/var/run/netns/" + netns_; }
    std::string in_b(const std::string& ip_args) const { return "ip -n " + netns_ + " " + ip_args; }

private:
    std::string veth_;
    std::string netns_;
};

// Stops a wireguard-go this test started and removes a socket it may leave.
struct DaemonGuard {
    explicit DaemonGuard(std::string i) : ifname(std::move(i)) {}
    ~DaemonGuard();
    std::string ifname;
    std::optional<pid_t> pid;
};

struct Site {
    std::string ifname;
    std::string key_file;  // 0600, base64
    std::string public_key;
};
Site make_site(const std::string& ifname, const std::string& dir);

nl::WgPeer peer_of(const Site& s, std::vector<const char*> ips, const char* endpoint);
nl::WgDevice device_of(const Site& s, uint16_t port, std::vector<nl::WgPeer> peers);

// get + diff + set, as an apply does; returns the change it applied.
WgDeviceChange apply(WgBackend& backend, const nl::WgDevice& desired);
// get() equals desired without its key file reference.
void check_observed(WgBackend& backend, const nl::WgDevice& desired);
bool ping(const std::string& addr);  // up to 10 tries of one second

// A temporary folder, removed with its content.
struct WorkDir {
    WorkDir();
    ~WorkDir();
    std::string path;
};

}  // namespace avpn::wg::netns_test
