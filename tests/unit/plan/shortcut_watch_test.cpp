// The shortcut watch (issue 14, docs/firewall.md "The shortcut watch"):
// which spokes a site counts traffic for, and how table inet avpn renders
// the counters, maps and rules nft then runs (tests/netns/
// shortcut_watch_test.cpp runs them in a kernel).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/incremental.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Hubs h1, h2. Spokes a [h1], b [h2, h1] (two families), c [h2] (no hub
// shared with a), d [h1] switched off, e [h9] listing an off hub a also
// lists, f [h1]. Shortcuts on, WireGuard.
World spokes_world() {
    World w;
    w.group.shortcuts = true;
    w.hub("h1", {P("10.101.0.0/16")});
    w.hub("h2", {P("10.102.0.0/16")});
    w.hub("h9", {P("10.109.0.0/16")}).role = Role::off;
    w.spoke("a", {"h1", "h9"}, {P("10.1.0.0/24")});
    w.spoke("b", {"h2", "h1"}, {P("10.2.0.0/24"), P("2001:db8:2::/48"), P("10.2.1.0/24")}).pinned = A("100.64.0.20");
    w.spoke("c", {"h2"}, {P("10.3.0.0/24")}).pinned = A("100.64.0.30");
    w.spoke("d", {"h1"}, {P("10.4.0.0/24")}).role = Role::off;
    w.spoke("e", {"h9"}, {P("10.5.0.0/24")});
    w.spoke("f", {"h1"}, {P("10.6.0.0/24")}).pinned = A("100.64.0.60");
    return w;
}

std::vector<fw::ShortcutWatch> watch_of(const Intent& in, const PlanInputs& inputs) {
    PlanOutcome out = plan(in, inputs);
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.firewall);
    return out.state.firewall->shortcut_watch;
}

std::vector<fw::ShortcutWatch> watch_at(const World& w, const std::string& site) {
    return watch_of(w.intent_for(site), w.inputs_for(site));
}

std::vector<std::string> counters(const std::vector<fw::ShortcutWatch>& v) {
    std::vector<std::string> out;
    for (const fw::ShortcutWatch& s : v) out.push_back(s.counter);
    return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a spoke watches the active spokes that reach a hub, each its exports and tunnel address") {
    const World w = spokes_world();
    auto watch = watch_at(w, "a");
    // c shares no hub with a, but h1 and h2 meet; d is off; e lists only
    // h9, which is off: no hub carries its traffic.
    CHECK(counters(watch) == std::vector<std::string>{"shortcut-corp/b", "shortcut-corp/c", "shortcut-corp/f"});
    REQUIRE(watch.size() == 3);
    CHECK(watch[0].group == "corp");
    CHECK(watch[0].site == "b");
    // Sorted: by family, then address.
    CHECK(watch[0].prefixes ==
          std::vector<Prefix>{P("10.2.0.0/24"), P("10.2.1.0/24"), P("100.64.0.20/32"), P("2001:db8:2::/48")});
    CHECK(watch[1].site == "c");
    CHECK(watch[2].site == "f");
    CHECK(watch[2].prefixes == std::vector<Prefix>{P("10.6.0.0/24"), P("100.64.0.60/32")});
    // Both ends watch each other.
    CHECK(counters(watch_at(w, "b")) ==
          std::vector<std::string>{"shortcut-corp/a", "shortcut-corp/c", "shortcut-corp/f"});
    CHECK(counters(watch_at(w, "c")) ==
          std::vector<std::string>{"shortcut-corp/a", "shortcut-corp/b", "shortcut-corp/f"});
    // e reaches no hub: it watches nobody.
    CHECK(watch_at(w, "e").empty());
}

TEST_CASE("nothing is watched by a hub, in a group without shortcuts, or in an XFRM group") {
    World w = spokes_world();
    // Even were a hub to list a hub that spokes list (the config has no
    // such thing; the role decides, not the list).
    w.site("h1").hubs = {{"h2", false, {}}};
    CHECK(watch_at(w, "h1").empty());
    CHECK(watch_at(w, "h2").empty());
    w.group.shortcuts = false;
    CHECK(watch_at(w, "a").empty());
    w.group.shortcuts = true;
    w.group.transport = Transport::xfrm;  // the config refuses shortcuts there; the planner ignores them
    // XFRM needs the hubs' contacts to plan; they change nothing watched.
    w.site("h1").contact = E("192.0.2.1:4500");
    w.site("h2").contact = E("192.0.2.2:4500");
    CHECK(watch_at(w, "a").empty());
}

TEST_CASE("a site in two shortcut groups: one counter per group, and every prefix in one of them only") {
    World w = spokes_world();
    Intent in = w.intent_for("a");
    Group lab = in.groups[0];
    lab.name = "lab";
    lab.interface = "avpn-lab";
    lab.table = 7101;
    lab.rule_priority = 7020;
    lab.listen_port = 51821;
    lab.tunnel_subnet = P("100.96.0.0/16");
    lab.tunnel_address.reset();
    for (Member& m : lab.members) m.tunnel_address.reset();
    // In lab, b exports 10.2.0.0/16, which covers its corp /24s: nftables
    // refuses overlapping intervals in one map.
    for (Member& m : lab.members)
        if (m.name == "b") m.exports = {P("10.2.0.0/16")};
    in.groups.push_back(lab);
    auto watch = watch_of(in, w.inputs_for("a"));
    REQUIRE(counters(watch) == std::vector<std::string>{"shortcut-corp/b", "shortcut-corp/c", "shortcut-corp/f",
                                                          "shortcut-lab/b", "shortcut-lab/c", "shortcut-lab/f"});
    // The covering prefix keeps it; the equal one (f's /24 in both) goes to
    // the first counter by name.
    CHECK(watch[0].prefixes == std::vector<Prefix>{P("100.64.0.20/32"), P("2001:db8:2::/48")});
    CHECK(watch[2].prefixes == std::vector<Prefix>{P("10.6.0.0/24"), P("100.64.0.60/32")});
    REQUIRE(watch[3].prefixes.size() == 2);
    CHECK(watch[3].prefixes[0] == P("10.2.0.0/16"));
    CHECK(P("100.96.0.0/16").contains(watch[3].prefixes[1]));  // b's lab tunnel address
    REQUIRE(watch[5].prefixes.size() == 1);
    CHECK(P("100.96.0.0/16").contains(watch[5].prefixes[0]));
}

TEST_CASE("the watch follows hub lists the reused firewall table does not read") {
    World w = spokes_world();
    IncrementalPlanner planner;
    planner.commit(planner.update(w.intent_for("a"), w.inputs_for("a")));
    w.site("e").hubs.push_back({"h1", false, {}});  // e now reaches an active hub
    auto u = planner.update(w.intent_for("a"), w.inputs_for("a"));
    REQUIRE(u.pieces.shared.firewall);
    REQUIRE(planner.committed());
    // plan_firewall_reusing handed back the same table (no peer's exports
    // changed), yet the watch grew: Site::apply_change compares it itself.
    CHECK(u.pieces.allocations.firewall == planner.committed()->allocations.firewall);
    CHECK(counters(u.pieces.shared.firewall->shortcut_watch) ==
          std::vector<std::string>{"shortcut-corp/b", "shortcut-corp/c", "shortcut-corp/e", "shortcut-corp/f"});
}

TEST_CASE("rendered: counters, one interval map per family, two counting rules first in forward") {
    const World w = spokes_world();
    PlanOutcome out = w.plan_for("a");
    REQUIRE(out.ok());
    const std::string json = fw::render_firewall_json(*out.state.firewall);
    CHECK(has(json, R"({"add":{"counter":{"family":"inet","table":"avpn","name":"shortcut-corp/b"}}})"));
    CHECK(has(json, R"({"add":{"counter":{"family":"inet","table":"avpn","name":"shortcut-corp/c"}}})"));
    CHECK(has(json, R"({"add":{"counter":{"family":"inet","table":"avpn","name":"shortcut-corp/f"}}})"));
    CHECK(has(json, R"({"add":{"map":{"family":"inet","table":"avpn","name":"shortcut-v4","type":"ipv4_addr",)"
                    R"("map":"counter","flags":["interval"],"elem":[)"
                    R"([{"prefix":{"addr":"10.2.0.0","len":24}},"shortcut-corp/b"],)"
                    R"([{"prefix":{"addr":"10.2.1.0","len":24}},"shortcut-corp/b"],)"
                    R"([{"prefix":{"addr":"10.3.0.0","len":24}},"shortcut-corp/c"],)"
                    R"([{"prefix":{"addr":"10.6.0.0","len":24}},"shortcut-corp/f"],)"
                    R"(["100.64.0.20","shortcut-corp/b"],["100.64.0.30","shortcut-corp/c"],)"
                    R"(["100.64.0.60","shortcut-corp/f"]]}}})"));
    CHECK(has(json, R"({"add":{"map":{"family":"inet","table":"avpn","name":"shortcut-v6","type":"ipv6_addr",)"
                    R"("map":"counter","flags":["interval"],"elem":[)"
                    R"([{"prefix":{"addr":"2001:db8:2::","len":48}},"shortcut-corp/b"]]}}})"));
    auto counting = [](const char* proto, const char* field, const char* map) {
        return std::string(R"({"add":{"rule":{"family":"inet","table":"avpn","chain":"forward","expr":[)") +
               R"({"counter":{"map":{"key":{"payload":{"protocol":")" + proto + R"(","field":")" + field +
               R"("}},"data":"@)" + map + R"("}}}]}}})";
    };
    const size_t first_jump = json.find(R"("chain":"forward","expr":[{"match")");
    REQUIRE(first_jump != std::string::npos);
    for (auto [proto, map] : {std::pair{"ip", "shortcut-v4"}, std::pair{"ip6", "shortcut-v6"}})
        for (const char* field : {"daddr", "saddr"}) {
            CAPTURE(proto);
            CAPTURE(field);
            size_t at = json.find(counting(proto, field, map));
            REQUIRE(at != std::string::npos);
            CHECK(at < first_jump);  // before the jumps, which may end the chain
        }
    // The maps before the chains whose rules name them; default-drop stays
    // the last counter.
    CHECK(json.find(R"("name":"shortcut-v4")") < json.find(R"({"chain":{)"));
    CHECK(json.find(R"("name":"shortcut-corp/f")") < json.find(R"("name":"default-drop")"));
}

TEST_CASE("rendered: no family without prefixes, and nothing at all without a watch") {
    World w = spokes_world();
    w.site("b").exports = {P("10.2.0.0/24")};  // no IPv6 left anywhere
    std::string json = fw::render_firewall_json(*w.plan_for("a").state.firewall);
    CHECK(has(json, R"("name":"shortcut-v4")"));
    CHECK_FALSE(has(json, "shortcut-v6"));
    CHECK_FALSE(has(json, R"("protocol":"ip6","field":"daddr"}},"data")"));
    w.group.shortcuts = false;
    json = fw::render_firewall_json(*w.plan_for("a").state.firewall);
    CHECK_FALSE(has(json, "shortcut"));
}
