// The demo hub against the real kernel, for the apply tests in netns
// (apply_rollback_test.cpp, apply_fault_test.cpp): a copy of
// examples/netns-demo, its uplink, the real NetlinkPort with wireguard-go in
// a private /run/wireguard, and the whole kernel dump to compare.
#pragma once

#include <doctest/doctest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/apply.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/runtime/scope.hpp"
#include "tests/netns/netlink_fixture.hpp"

namespace avpn::test {

using nl::netns::must;
using nl::netns::sh;


inline constexpr const char* kTunnel = "avpn-demo";  // the demo group's interface

[[noreturn]] inline void skip(const std::string& why) {
    std::printf("SKIP: %s\n", why.c_str());
    std::exit(77);
}

// wireguard-go always puts its UAPI socket in /var/run/wireguard: give this
// process a private one so a concurrent test using the same interface name
// cannot meet ours.
inline void private_wireguard_run_dir() {
    static bool done = false;
    if (done) return;
    if (sh("command -v wireguard-go").empty()) skip("wireguard-go is not installed");
    if (unshare(CLONE_NEWNS) != 0) skip(std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        skip(std::string("making / private: ") + std::strerror(errno));
    ::mkdir("/run/wireguard", 0700);
    if (mount("tmpfs", "/run/wireguard", "tmpfs", 0, "mode=0700") != 0)
        skip(std::string("tmpfs on /run/wireguard: ") + std::strerror(errno));
    done = true;
}

// A copy of examples/netns-demo with private keys (git does not keep modes).
struct Demo {
    std::string dir;
    Demo() {
        char tmpl[] = "/tmp/avpn-rollback.XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        const char* src = std::getenv("AVPN_SOURCE_DIR");
        REQUIRE_MESSAGE(src, "AVPN_SOURCE_DIR is not set");
        must("cp -r " + std::string(src) + "/examples/netns-demo/. " + dir + "/ && chmod 600 " + dir + "/keys/*.key");
    }
    ~Demo() { sh("rm -rf " + dir); }
    // branch1 also exports its Lab VLAN: the hub gains a route and an allowed IP.
    void permit_branch1_lab() {
        must("sed -i 's|^exports = \\[\"10.1.1.0/24\"\\]|exports = [\"10.1.1.0/24\", \"10.1.2.0/24\"]|' " + dir +
             "/members.toml && grep -q 10.1.2.0/24 " + dir + "/members.toml");
    }
    Intent intent() const {
        LoadResult r = load_site(dir + "/sites/hq.toml");
        std::string errors;
        for (const Error& e : r.errors) errors += format_diagnostic(e) + "\n";
        REQUIRE_MESSAGE(r.ok(), errors);
        return *r.intent;
    }
};

// The hub's uplink, and whatever the test leaves behind removed on every exit
// path (deleting the TUN device also ends its wireguard-go). The veths get no
// IPv6 link-local addresses: their duplicate address detection finishes
// whenever it does (seconds later on the VM tier's emulated CPU), and the
// dumps compared below would see it as a change.
struct Hub {
    Hub() {
        must("ip link add wan0 type veth peer name wan0p && ip link set wan0 addrgenmode none && "
             "ip link set wan0p addrgenmode none && ip addr add 192.0.2.1/24 dev wan0 && "
             "ip link set wan0 up && ip link set wan0p up");
        // The pair's carrier comes a moment later (NO-CARRIER, then UP): a
        // dump taken before that would differ from every later one.
        // (/sys shows the namespace the test started in: ask rtnetlink.)
        must("for i in $(seq 100); do ip -o link show wan0 | grep -q 'state UP' && "
             "ip -o link show wan0p | grep -q 'state UP' && exit 0; sleep 0.05; done; exit 1");
    }
    ~Hub() {
        sh(std::string("ip link del ") + kTunnel);
        sh("ip link del wan0");
    }
};

// Everything a site's networking consists of, as iproute2 prints it.
inline std::string kernel_dump() {
    return sh("ip -d -o link show; ip -o addr show; ip route show table all; ip -6 route show table all; "
              "ip rule show; ip -6 rule show; ip xfrm policy list");
}

// Forwards to the real port; before the first batch of `phase` creates or
// updates, runs `sabotage` once: a real change of the kernel between two
// phases of one apply.
class SabotagedPort final : public KernelPort {
public:
    SabotagedPort(KernelPort& real, size_t phase, std::function<void()> sabotage)
        : real_(real), phase_(phase), sabotage_(std::move(sabotage)) {}

    Result<nl::KernelState> observe(const OwnedScope& s) override { return real_.observe(s); }
    Result<OwnedScope> scan_owned() override { return real_.scan_owned(); }
    Status adopt_journaled(const std::vector<JournaledLink>& l) override { return real_.adopt_journaled(l); }
    std::vector<Status> execute(const std::vector<Op>& ops) override {
        if (!fired && !ops.empty() && ops.front().phase() == phase_ && ops.front().kind != OpKind::remove) {
            fired = true;
            sabotage_();
        }
        return real_.execute(ops);
    }
    Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& n) override {
        return real_.interface_addresses(n);
    }
    bool fired = false;

private:
    KernelPort& real_;
    size_t phase_;
    std::function<void()> sabotage_;
};

inline constexpr size_t kRoutePhase = 5;  // KernelObject: link, address, wireguard, xfrm_state, xfrm_policy, route, rule

struct HubSite {
    Demo demo;
    Hub hub;
    std::unique_ptr<NetlinkPort> port;
    HubSite() {
        private_wireguard_run_dir();
        REQUIRE(object_kind_name(kRoutePhase) == "route");
        auto p = NetlinkPort::open({});
        REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().str()));
        port = std::move(*p);
    }
    DesiredState plan_now() {
        Intent in = demo.intent();
        PlanInputs inputs;
        auto addresses = port->interface_addresses({"wan0"});
        REQUIRE(addresses.ok());
        inputs.uplink_addresses = *addresses;
        PlanOutcome out = plan(in, inputs);
        REQUIRE(out.ok());
        REQUIRE(!out.state.routes.empty());
        return out.state;
    }
    std::vector<nl::WgDevice> wireguard(const OwnedScope& scope) {
        auto st = port->observe(scope);
        REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
        return st->wireguard;
    }
};

inline std::string report_text(const ApplyReport& r) {
    std::string s = r.failure ? r.failure->str() : "no failure";
    for (const Error& e : r.undo_failures) s += "\n  undo: " + e.str();
    return s;
}

}  // namespace avpn::test
