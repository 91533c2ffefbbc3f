// XFRM transport, what this kernel can prove: it has XFRM policies but no
// ESP (no SAs) and no XFRM interfaces. The demo hub planned with transport =
// "xfrm" gives an XFRM interface, SAs, policies, routes and a rule; the
// policies, routes and rules are applied through the real NetlinkPort (the
// routes' device is a stand-in veth of the XFRM interface's name), read back
// with the port's own dump, and must equal the plan exactly. A second apply
// writes nothing; removing them leaves the stand-in alone (not avpn's) and
// the operator's own XFRM policy untouched. The whole path with SAs and the
// interface is tests/netns/apply_xfrm.sh, which runs where the kernel has them.
#include <doctest/doctest.h>

#include <cstdlib>

#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/runtime/scope.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/apply.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using nl::netns::must;
using nl::netns::sh;

namespace {

struct XfrmDemo {
    std::string dir;
    XfrmDemo() {
        char tmpl[] = "/tmp/avpn-xfrm-subset.XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        const char* src = std::getenv("AVPN_SOURCE_DIR");
        REQUIRE_MESSAGE(src, "AVPN_SOURCE_DIR is not set");
        must("cp -r " + std::string(src) + "/examples/netns-demo/. " + dir + "/ && chmod 600 " + dir +
             "/keys/*.key && sed -i 's/^transport = .*/transport = \"xfrm\"/' " + dir +
             "/members.toml && sed -i '/^wireguard_backend = /d' " + dir + "/sites/hq.toml && grep -q '^transport = \"xfrm\"' " +
             dir + "/members.toml");
    }
    ~XfrmDemo() { sh("rm -rf " + dir); }
};

std::string policies_dump() { return sh("ip xfrm policy list"); }

}  // namespace

TEST_CASE("the XFRM plan's policies, routes and rules through the real port equal the plan") {
    XfrmDemo demo;
    LoadResult loaded = load_site(demo.dir + "/sites/hq.toml");
    REQUIRE(loaded.ok());
    const Intent& intent = *loaded.intent;

    must("ip link add wan0 type veth peer name wan0p && ip addr add 192.0.2.1/24 dev wan0 && ip link set wan0 up && "
         "ip link set wan0p up");
    auto port = NetlinkPort::open({});
    REQUIRE(port.ok());
    PlanInputs inputs;
    auto addresses = (*port)->interface_addresses({"wan0"});
    REQUIRE(addresses.ok());
    inputs.uplink_addresses = *addresses;
    REQUIRE(inputs.uplink_addresses.count("wan0"));
    PlanOutcome planned = plan(intent, inputs);
    REQUIRE(planned.ok());
    const DesiredState& full = planned.state;

    // What the plan has and this kernel cannot: the interface and the SAs.
    REQUIRE(full.links.size() == 1);
    CHECK(full.links[0].kind == nl::LinkKind::xfrm);
    CHECK(full.wireguard.empty());
    CHECK(full.xfrm_states.size() == 4);  // in and out to each spoke
    const std::string ifname = full.links[0].name;

    nl::KernelState subset;
    subset.xfrm_policies = full.xfrm_policies;
    subset.routes = full.routes;
    subset.rules = full.rules;
    REQUIRE(subset.xfrm_policies.size() > 2);
    REQUIRE(!subset.routes.empty());
    REQUIRE(!subset.rules.empty());
    for (const auto& p : subset.xfrm_policies) CHECK(p.if_id == full.links[0].xfrm_if_id);

    // Stand-in for the XFRM interface (a veth: not an avpn link, so avpn
    // neither observes nor deletes it), and an operator's policy to keep.
    must("ip link add " + ifname + " type veth peer name " + ifname + "-p && ip link set " + ifname +
         " up && ip link set " + ifname + "-p up");
    must("ip xfrm policy add src 198.18.0.0/15 dst 203.0.113.0/24 dir out priority 500 "
         "tmpl src 192.0.2.250 dst 192.0.2.254 proto esp reqid 7 mode tunnel");
    std::string operator_policy = policies_dump();
    OwnedScope scope = runtime::owned_by(full);

    ApplyReport r = apply(subset, scope, **port, false);
    REQUIRE_MESSAGE(r.applied, (r.failure ? r.failure->str() : ""));
    OpCounts c = count(r.ops);
    CHECK(c.created[4] == subset.xfrm_policies.size());
    CHECK(c.created[5] == subset.routes.size());
    CHECK(c.created[6] == subset.rules.size());
    CHECK(c.total() == r.ops.size());

    auto seen = (*port)->observe(scope);
    REQUIRE(seen.ok());
    CHECK(seen->xfrm_policies == subset.xfrm_policies);
    CHECK(seen->routes == subset.routes);
    CHECK(seen->rules == subset.rules);
    CHECK(seen->xfrm_states.empty());
    CHECK(seen->links.empty());  // the veth stand-in is not avpn's
    // iproute2 agrees on the count of avpn's policies (if_id printed in hex).
    char if_id[16];
    std::snprintf(if_id, sizeof if_id, "0x%x", full.links[0].xfrm_if_id);
    std::string dump = policies_dump();
    size_t n = 0;
    for (size_t at = dump.find(if_id); at != std::string::npos; at = dump.find(if_id, at + 1)) ++n;
    CHECK(n == subset.xfrm_policies.size());

    ApplyReport again = apply(subset, scope, **port, false);
    CHECK(again.applied);
    CHECK(again.ops.empty());

    ApplyReport down = apply(nl::KernelState{}, scope, **port, false);
    REQUIRE(down.applied);
    CHECK(down.ops.size() == r.ops.size());
    CHECK(policies_dump() == operator_policy);
    CHECK(sh("ip route show table 7100").empty());
    CHECK(sh("ip link show " + ifname).find(ifname) != std::string::npos);
}
