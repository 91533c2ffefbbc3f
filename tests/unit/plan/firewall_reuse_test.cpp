// avpnd's planner reuses the last firewall table while nothing the firewall
// planner reads has changed (plan_firewall_reusing, firewall_plan.hpp). One
// change per step: the table after it must equal a fresh plan()'s, and be
// the very object of the step before exactly when the change is one the
// firewall does not read. A wrong reuse shows as a table that differs from
// the fresh one (every replanning step changes the table); a needless
// replan shows as a new object.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "helpers.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// The rendered table plus what rendering leaves out (each rule's origin).
std::string describe(const std::optional<fw::FirewallTable>& t) {
    if (!t) return "none";
    std::string out = fw::render_firewall_json(*t);
    for (const fw::Rule& r : t->rules) out += "\n" + (r.origin ? r.origin->str() : "-");
    return out;
}

struct Step {
    const char* what;
    bool reuses;
    std::function<void(World&, std::vector<FwRule>&)> change;
};

void run_steps(Transport transport) {
    World w = hub_and_spokes(8, 2, transport);
    // s2 exports 10.0.4.0/24 and 10.0.5.0/24, s3 10.0.6.0/24 and 10.0.7.0/24.
    std::vector<FwRule> rules = {rule(FwAction::allow, "site:s3", "vlan:vlan0", "tcp", {22}, 10),
                                 rule(FwAction::deny, "any", "10.0.4.0/24", "any", {}, 14)};
    auto intent = [&] {
        Intent in = w.intent_for("hub");
        in.firewall = rules;
        return in;
    };
    const Step steps[] = {
        {"a keepalive change (full path)", true, [](World& x, auto&) { x.group.keepalive_seconds = 40; }},
        {"a member's contact", true, [](World& x, auto&) { x.site("s2").contact = E("198.51.100.9:4500"); }},
        {"a rule's comment", true, [](World&, auto& r) { r[0].comment = "ssh from s3"; }},
        {"a member added", false, [](World& x, auto&) { x.spoke("s8", {"hub"}, {P("10.0.64.0/24")}); }},
        {"a member's exports", false, [](World& x, auto&) { x.site("s3").exports[1] = P("10.9.3.0/24"); }},
        {"a rule's ports", false, [](World&, auto& r) { r[0].ports = {22, 2222}; }},
        {"a rule moved in the file", false, [](World&, auto& r) { r[1].loc.line = 20; }},
        {"a local VLAN added", false, [](World& x, auto&) { x.site("hub").exports.push_back(P("10.254.0.0/16")); }},
        {"nothing", true, [](World&, auto&) {}},
    };
    IncrementalPlanner planner;
    planner.commit(planner.update(intent(), w.inputs_for("hub")));
    for (const Step& step : steps) {
        const std::string context = std::string(to_string(transport)) + ": " + step.what;
        INFO(context);
        step.change(w, rules);
        const Intent in = intent();
        const PlanInputs inputs = w.inputs_for("hub");
        auto before = planner.committed()->allocations.firewall;
        auto u = planner.update(in, inputs);
        PlanOutcome fresh = plan(in, inputs);
        REQUIRE(fresh.ok());
        REQUIRE(u.pieces.errors.empty());
        REQUIRE(u.pieces.shared.firewall);
        CHECK(describe(u.pieces.shared.firewall) == describe(fresh.state.firewall));
        // Each replanning step does change the table, so a wrong reuse would show.
        CHECK((describe(planner.committed()->shared.firewall) != describe(fresh.state.firewall)) == !step.reuses);
        CHECK((u.pieces.allocations.firewall == before) == step.reuses);
        planner.commit(std::move(u));
    }
}

}  // namespace

TEST_CASE("the firewall table is reused exactly while its inputs are unchanged: WireGuard") {
    run_steps(Transport::wireguard);
}

TEST_CASE("the firewall table is reused exactly while its inputs are unchanged: XFRM") {
    run_steps(Transport::xfrm);
}
