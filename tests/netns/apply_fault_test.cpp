// Fault injection at every op index (issue 12): the demo hub with many
// spokes, applied through the real NetlinkPort and wireguard-go, where a
// decorator makes the N-th write fail, once for every N. The other ops of
// N's batch run for real, as they do in a kernel batch; then the engine's
// undo runs against the real kernel. After each, the whole kernel dump and
// the WireGuard device must equal what they were before that apply.
// This covers links, addresses, WireGuard, routes and rules; XFRM SAs and
// interfaces need a kernel with ESP: apply_fault_xfrm_test.cpp, in the VM.
// Reads fail too (issue 12, case 10): a dump that fails is never taken as
// "nothing there", so each failing read fails the site apply before it
// writes anything.
#include <optional>

#include "orchestrator/runtime/site_apply.hpp"
#include "tests/netns/fault_fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Forwards to the real port, except that one kind of read fails as a dump
// ending in an error would; counts the ops that reach the kernel.
enum class Read { none, observe, scan_owned, addresses };

class ReadFaultPort final : public KernelPort {
public:
    ReadFaultPort(KernelPort& real, Read failing) : real_(real), failing_(failing) {}

    Result<nl::KernelState> observe(const OwnedScope& s) override {
        if (failing_ == Read::observe) return injected("observe");
        return real_.observe(s);
    }
    Result<OwnedScope> scan_owned() override {
        if (failing_ == Read::scan_owned) return injected("scan_owned");
        return real_.scan_owned();
    }
    Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& n) override {
        if (failing_ == Read::addresses) return injected("interface_addresses");
        return real_.interface_addresses(n);
    }
    Status adopt_journaled(const std::vector<JournaledLink>& l) override {
        writes += l.size();  // marks links: a write
        return real_.adopt_journaled(l);
    }
    std::vector<Status> execute(const std::vector<Op>& ops) override {
        writes += ops.size();
        return real_.execute(ops);
    }
    size_t writes = 0;

private:
    static Error injected(const char* read) { return Error{"injected", read, "dump failed", EIO}; }
    KernelPort& real_;
    Read failing_;
};

// The hub with spokes 1..n, applied for real; its plan.
DesiredState apply_hub(HubSite& site, int spokes) {
    add_spokes(site.demo, 1, spokes);
    DesiredState plan = site.plan_now();
    ApplyReport applied = apply(plan, runtime::owned_by(plan), *site.port, false);
    REQUIRE_MESSAGE(applied.applied, report_text(applied));
    return plan;
}

}  // namespace

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
    DesiredState first = apply_hub(site, 60);

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

// The CLI's path (runtime::read_plan_inputs, plan, runtime::apply_site):
// what stopped it, or nothing.
static std::optional<Error> apply_as_cli(const Intent& intent, const AppliedRecord& last, KernelPort& port,
                                         const std::string& state_dir) {
    auto inputs = runtime::read_plan_inputs(intent, port);
    if (!inputs) return inputs.error();
    PlanOutcome planned = plan(intent, *inputs);
    REQUIRE(planned.ok());
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) { return apply(d, scope, port, false); };
    runtime::SiteApplyOptions o;
    o.state_dir = state_dir;  // the apply journal's; no charon (the demo has no [[ipsec]])
    auto firewall = fw::NftTable::open();  // the demo's table inet avpn
    REQUIRE(firewall.ok());
    o.firewall = firewall->get();
    runtime::SiteApplyResult r = runtime::apply_site(intent, planned.state, last, port, kernel, o);
    if (r.refused) return r.refused;
    if (r.kernel.failure) return r.kernel.failure;
    REQUIRE(r.ok());
    return std::nullopt;
}

// Over a hub already applied whose plan now changes (a spoke leaves, one
// joins), each failing read fails the CLI's path before the first write, and
// the kernel dump and the WireGuard device (peers included) stay as the last
// apply left them. (XFRM SAs, which a plan without uplinks would delete, need
// ESP: not on this kernel.)
TEST_CASE("a failing read fails the site apply before it writes") {
    HubSite site;
    DesiredState first = apply_hub(site, 5);
    const AppliedRecord last{"hq", "", runtime::owned_by(first), {}};
    remove_spokes(site.demo, 1, 1);
    add_spokes(site.demo, 6, 6);
    const Intent intent = site.demo.intent();
    const std::string state_dir = site.demo.dir + "/state";
    must("mkdir -m 700 " + state_dir);

    const std::string before = kernel_dump();
    const std::vector<nl::WgDevice> wg_before = site.wireguard(last.owned);
    REQUIRE(wg_before.size() == 1);
    REQUIRE(wg_before.front().peers.size() >= 5);
    for (Read failing : {Read::addresses, Read::scan_owned, Read::observe}) {
        ReadFaultPort port(*site.port, failing);
        const std::string name = failing == Read::addresses ? "interface_addresses"
                           : failing == Read::scan_owned ? "scan_owned" : "observe";
        INFO("failing read: " << name);
        std::optional<Error> e = apply_as_cli(intent, last, port, state_dir);
        REQUIRE(e);
        CHECK(e->str().find(name) != std::string::npos);
        CHECK(port.writes == 0);
        CHECK(kernel_dump() == before);
        CHECK(site.wireguard(last.owned) == wg_before);
    }
    // With every read working the same change writes: the test would prove
    // nothing if it were empty.
    ReadFaultPort none(*site.port, Read::none);
    std::optional<Error> e = apply_as_cli(intent, last, none, state_dir);
    CHECK_MESSAGE(!e, (e ? e->str() : ""));
    CHECK(none.writes > 0);
    std::printf("failing reads: interface_addresses, scan_owned, observe each failed before any write; "
                "the change then wrote %zu ops\n", none.writes);
}
