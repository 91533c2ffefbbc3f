// The firewall domain of a site apply (runtime/firewall_apply.hpp) against
// the real kernel: the demo hub with spokes, applied through
// runtime::apply_site with the real NetlinkPort, wireguard-go and NftTable.
// Faults are injected as the other apply tests do, by decorating the real
// seams: a TablePort whose replace sends the kernel a batch it refuses (one
// more rule naming a set that does not exist, so libnftables fails the whole
// transaction for real), and fault_fixture.hpp's FaultPort failing the
// netlink step after the table is in. Each time table inet avpn (as `nft
// list table` prints it), an operator's table (`nft -j`) and the whole
// netlink dump must be what they were before the failed apply.
#include <optional>

#include "orchestrator/runtime/site_apply.hpp"
#include "tests/netns/fault_fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

std::string avpn_table() { return sh("nft list table inet avpn 2>&1"); }
std::string operator_table() { return sh("nft -j list table inet operator"); }

// Forwards to the real table; replace() adds a rule the kernel's batch
// refuses, so the real transaction fails whole.
class RefusedReplace final : public fw::TablePort {
public:
    explicit RefusedReplace(fw::TablePort& real) : real_(real) {}
    Status replace(std::string_view contents) override {
        std::string bad(contents);
        REQUIRE(bad.size() > 2);
        bad.insert(bad.size() - 1,
                   R"(,{"add":{"rule":{"family":"inet","table":"avpn","chain":"rules","expr":[{"match":{"op":"==",)"
                   R"("left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@no-such-set"}},{"accept":null}]}}})");
        ++replaces;
        return real_.replace(bad);
    }
    Status remove() override { return real_.remove(); }
    Result<bool> present() override { return real_.present(); }
    Result<std::string> read() override { return real_.read(); }
    Result<fw::Counters> counters() override { return real_.counters(); }
    int replaces = 0;

private:
    fw::TablePort& real_;
};

runtime::SiteApplyResult apply_with(HubSite& site, KernelPort& port, fw::TablePort& table, const std::string& state_dir,
                                    bool save_fails = false) {
    const Intent intent = site.demo.intent();
    auto inputs = runtime::read_plan_inputs(intent, port);
    REQUIRE(inputs.ok());
    PlanOutcome planned = plan(intent, *inputs);
    REQUIRE(planned.ok());
    REQUIRE(planned.state.firewall);
    StateDir state(state_dir);
    auto last = state.load();
    REQUIRE(last.ok());
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) { return apply(d, scope, port, false); };
    runtime::SiteApplyOptions o;
    o.state_dir = state_dir;
    o.firewall = &table;
    o.save = [&](const AppliedRecord& rec) -> Status {
        if (save_fails) return Error{"injected", "save the record", "disk full", ENOSPC};
        return state.save(rec, "");
    };
    return runtime::apply_site(intent, planned.state, *last, port, kernel, o);
}

std::string why(const runtime::SiteApplyResult& r) {
    if (r.refused) return r.refused->str();
    if (r.firewall.failure) return r.firewall.failure->str();
    if (r.kernel.failure) return r.kernel.failure->str();
    if (r.record_failure) return r.record_failure->str();
    return "ok";
}

}  // namespace

TEST_CASE("a failed apply leaves table inet avpn, the operator's table and the kernel as they were") {
    if (sh("command -v nft").empty()) skip("nft is not installed");
    HubSite site;
    auto nft = fw::NftTable::open();
    REQUIRE(nft.ok());
    fw::TablePort& table = **nft;
    must("nft 'add table inet operator; add set inet operator blocked { type ipv4_addr; elements = { 192.0.2.99 }; }; "
         "add chain inet operator screen { type filter hook forward priority 0; policy accept; }; "
         "add rule inet operator screen ip saddr @blocked counter drop'");
    const std::string state_dir = site.demo.dir + "/state";
    must("mkdir -m 700 " + state_dir);
    const std::string operator_before = operator_table();

    SUBCASE("over an applied table") {
        add_spokes(site.demo, 1, 5);
        runtime::SiteApplyResult first = apply_with(site, *site.port, table, state_dir);
        REQUIRE_MESSAGE(first.ok(), why(first));
        REQUIRE(first.firewall.replaced);
        const std::string table_before = avpn_table();
        REQUIRE(table_before.find("set peers-4") != std::string::npos);
        const std::string kernel_before = kernel_dump();
        add_spokes(site.demo, 6, 8);  // a change of the table and of the netlink objects

        SUBCASE("the replace fails: nothing else is touched") {
            RefusedReplace refusing(table);
            runtime::SiteApplyResult r = apply_with(site, *site.port, refusing, state_dir);
            REQUIRE(r.firewall.failure);
            CHECK(refusing.replaces == 1);
            CHECK(r.firewall.failure->str().find("replace nftables table") != std::string::npos);  // the kernel: ENOENT
            CHECK(r.kernel.ops.empty());
            CHECK(avpn_table() == table_before);
            std::printf("refused replace: %s\n", r.firewall.failure->str().c_str());
        }
        SUBCASE("the netlink step fails after the replace: the previous table comes back") {
            FaultPort failing(*site.port, 1);
            runtime::SiteApplyResult r = apply_with(site, failing, table, state_dir);
            REQUIRE(failing.fired);
            REQUIRE(r.kernel.failure);
            CHECK(r.firewall.replaced);
            CHECK(r.firewall.undone);
            CHECK_FALSE(r.firewall.undo_failure);
            CHECK(r.kernel.undo_failures.empty());
            CHECK(avpn_table() == table_before);
        }
        SUBCASE("the record cannot be saved: the previous table comes back") {
            runtime::SiteApplyResult r = apply_with(site, *site.port, table, state_dir, true);
            REQUIRE(r.record_failure);
            CHECK(r.firewall.undone);
            CHECK_FALSE(r.firewall.undo_failure);
            CHECK(avpn_table() == table_before);
        }
        CHECK(kernel_dump() == kernel_before);
        // Then the same change applies, and the table holds the new spokes.
        runtime::SiteApplyResult ok = apply_with(site, *site.port, table, state_dir);
        REQUIRE_MESSAGE(ok.ok(), why(ok));
        CHECK(ok.firewall.replaced);
        CHECK(avpn_table() != table_before);
    }
    SUBCASE("a cold apply failing after the table went in removes it again") {
        add_spokes(site.demo, 1, 3);
        REQUIRE_FALSE(*table.present());
        const std::string kernel_before = kernel_dump();
        FaultPort failing(*site.port, 2);
        runtime::SiteApplyResult r = apply_with(site, failing, table, state_dir);
        REQUIRE(r.kernel.failure);
        CHECK(r.firewall.replaced);
        CHECK(r.firewall.undone);
        CHECK_FALSE(*table.present());
        CHECK(kernel_dump() == kernel_before);
    }
    CHECK(operator_table() == operator_before);
    // What the next case starts from: no table, no tunnel.
    REQUIRE(table.remove().ok());
    sh(std::string("ip link del ") + kTunnel);
    must("nft delete table inet operator");
}
