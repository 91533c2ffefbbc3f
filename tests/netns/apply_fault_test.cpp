// Fault injection at every op index (issue 12): the demo hub with many
// spokes, applied through the real NetlinkPort and wireguard-go, where a
// decorator makes the N-th write fail, once for every N. The other ops of
// N's batch run for real, as they do in a kernel batch; then the engine's
// undo runs against the real kernel. After each, the whole kernel dump and
// the WireGuard device must equal what they were before that apply.
// This covers links, addresses, WireGuard, routes and rules; XFRM SAs and
// interfaces need a kernel with ESP: apply_fault_xfrm_test.cpp, in the VM.
#include "tests/netns/fault_fixture.hpp"

using namespace avpn;
using namespace avpn::test;

TEST_CASE("a cold apply failing at any op leaves the kernel empty") {
    HubSite site;
    add_spokes(site.demo, 1, 30);
    DesiredState want = site.plan_now();
    OwnedScope scope = runtime::owned_by(want);
    size_t tried = fail_every_op(site, want, scope, "cold apply");
    CHECK(tried >= 30);
}

TEST_CASE("a change failing at any op leaves the kernel as the last apply left it") {
    HubSite site;
    add_spokes(site.demo, 1, 60);
    DesiredState first = site.plan_now();
    ApplyReport applied = apply(first, runtime::owned_by(first), *site.port, false);
    REQUIRE_MESSAGE(applied.applied, report_text(applied));

    // Spokes 1-20 leave, 61-100 join, branch1 exports its Lab too, the
    // group moves to another tunnel subnet: removes, updates and creates.
    remove_spokes(site.demo, 1, 20);
    add_spokes(site.demo, 61, 100);
    site.demo.permit_branch1_lab();
    must("sed -i 's|^tunnel_subnet = .*|tunnel_subnet = \"100.64.8.0/24\"|' " + site.demo.dir + "/members.toml");
    DesiredState second = site.plan_now();
    OwnedScope scope = runtime::scope_of(second, AppliedRecord{"hq", "", runtime::owned_by(first), {}});
    size_t tried = fail_every_op(site, second, scope, "change");
    CHECK(tried >= 60);

    ApplyReport ok = apply(second, scope, *site.port, false);
    CHECK_MESSAGE(ok.applied, report_text(ok));
    // Complete: nothing the kernel dropped on the way is missing.
    ApplyReport again = apply(second, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(again.ops.empty(), again.ops.size() << " ops after a successful apply");
    ApplyReport down = apply(nl::KernelState{}, runtime::owned_by(second), *site.port, false);
    CHECK_MESSAGE(down.applied, report_text(down));
}
