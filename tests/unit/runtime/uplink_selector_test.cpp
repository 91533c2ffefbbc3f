// UplinkSelector (orchestrator/runtime/uplink_selector.hpp): the first
// healthy uplink is active; failover is immediate, failback waits for the
// hold (longer for a flapping uplink, bounded); all down means none active;
// active_active takes every healthy uplink; each switch is recorded.
#include <doctest/doctest.h>

#include "orchestrator/runtime/uplink_selector.hpp"

using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

using Names = std::vector<std::string>;
const UplinkClock::time_point t0{std::chrono::hours(1)};

// Link facts present and one probe answered: up at `at`.
void bring_up(UplinkSelector& s, const std::string& name, UplinkClock::time_point at) {
    s.set_carrier(name, true, at);
    s.set_address(name, true, at);
    s.set_default_route(name, true, at);
    s.add_probe(name, ProbeResult{at, 10ms}, at);
    REQUIRE(s.health(name)->up());
}

UplinkSelector all_up(UplinkSelectorMode mode = {}, const UplinkRules& rules = {}) {
    UplinkSelector s({"wan0", "wan1", "lte0"}, rules, mode);
    for (const char* n : {"lte0", "wan1", "wan0"}) bring_up(s, n, t0);
    return s;
}

// The carrier drops at `at` and comes back 1 s later; up again at +1.1 s.
void flap(UplinkSelector& s, const std::string& name, UplinkClock::time_point at) {
    s.set_carrier(name, false, at);
    s.set_carrier(name, true, at + 1s);
    s.add_probe(name, ProbeResult{at + 1100ms, 5ms}, at + 1100ms);
    REQUIRE(s.health(name)->up());
}

}  // namespace

TEST_CASE("uplink selector: the first healthy uplink is active, at start without a hold") {
    UplinkSelector s = all_up();
    // lte0 came up first, then wan1 and wan0 took over at once: an uplink
    // that never failed is held by nothing.
    CHECK(s.active() == Names{"wan0"});
    CHECK(s.switches().back().why == "wan0 up (preferred)");
    CHECK(s.failovers() == 0);
}

TEST_CASE("uplink selector: carrier loss moves the tunnels to the next healthy uplink at once") {
    UplinkSelector s = all_up();
    CHECK(s.set_carrier("wan0", false, t0 + 10s));
    CHECK(s.active() == Names{"wan1"});
    REQUIRE_FALSE(s.switches().empty());
    const UplinkSwitch& sw = s.switches().back();
    CHECK(sw.from == "wan0");
    CHECK(sw.to == "wan1");
    CHECK(sw.why == "carrier lost");
    CHECK(sw.at == t0 + 10s);
    CHECK(sw.interruption() == 0ns);
    CHECK_FALSE(sw.failback);
    CHECK(s.failovers() == 1);
}

TEST_CASE("uplink selector: 3 lost probes fail over, 2 do not; the interruption counts from the first") {
    UplinkSelector s = all_up();
    CHECK_FALSE(s.add_probe("wan0", {t0 + 1s, std::nullopt}, t0 + 2s));
    CHECK_FALSE(s.add_probe("wan0", {t0 + 2s, std::nullopt}, t0 + 3s));
    CHECK(s.active() == Names{"wan0"});
    CHECK(s.add_probe("wan0", {t0 + 3s, std::nullopt}, t0 + 4s));
    CHECK(s.active() == Names{"wan1"});
    CHECK(s.switches().back().why == "3 probes lost");
    CHECK(s.switches().back().interruption() == 3s);
}

TEST_CASE("uplink selector: a losing backup is skipped when the active one fails") {
    UplinkSelector s = all_up();
    s.set_carrier("wan1", false, t0 + 1s);
    s.set_carrier("wan0", false, t0 + 2s);
    CHECK(s.active() == Names{"lte0"});
}

TEST_CASE("uplink selector: failback only after the hold of 15 s") {
    UplinkSelector s = all_up();
    flap(s, "wan0", t0 + 10s);  // down at 10 s, healthy again at 11.1 s
    REQUIRE(s.active() == Names{"wan1"});
    const auto back = s.health("wan0")->since();
    CHECK(back == t0 + 11100ms);
    CHECK(s.hold(0, back) == 15s);
    REQUIRE(s.next_check(back));
    CHECK(*s.next_check(back) == back + 15s);
    CHECK_FALSE(s.tick(back + 15s - 1ms));
    CHECK(s.active() == Names{"wan1"});
    // Never stuck on the backup: the hold alone brings the preferred one back.
    CHECK(s.tick(back + 15s));
    CHECK(s.active() == Names{"wan0"});
    const UplinkSwitch& sw = s.switches().back();
    CHECK(sw.failback);
    CHECK(sw.from == "wan1");
    CHECK(sw.to == "wan0");
    CHECK(sw.why == "wan0 healthy for 15 s");
    CHECK(sw.interruption() == 0ns);
    CHECK(s.failovers() == 1);  // a failback is not a failover
    CHECK_FALSE(s.next_check(back + 15s));
}

TEST_CASE("uplink selector: the failback hold is a rule") {
    UplinkRules rules;
    rules.failback_hold = 5s;
    UplinkSelector s = all_up({}, rules);
    flap(s, "wan0", t0 + 10s);
    const auto back = s.health("wan0")->since();
    CHECK_FALSE(s.tick(back + 4s));
    CHECK(s.tick(back + 5s));
    CHECK(s.active() == Names{"wan0"});
}

TEST_CASE("uplink selector: a flapping preferred uplink gets a longer hold, bounded") {
    UplinkSelector s = all_up();
    // wan0 fails four times in a minute.
    for (int i = 0; i < 4; ++i) flap(s, "wan0", t0 + 10s + i * 10s);
    CHECK(s.active() == Names{"wan1"});
    const auto back = s.health("wan0")->since();
    CHECK(s.hold(0, back) == 120s);  // 15 s doubled per flap: 15, 30, 60, 120
    CHECK_FALSE(s.tick(back + 60s));
    CHECK(s.active() == Names{"wan1"});
    // A fifth flap does not make it longer: max_failback_hold caps it.
    flap(s, "wan0", back + 61s);
    const auto back2 = s.health("wan0")->since();
    CHECK(s.hold(0, back2) == 120s);
    CHECK_FALSE(s.tick(back2 + 119s));
    CHECK(s.tick(back2 + 120s));
    CHECK(s.active() == Names{"wan0"});
}

TEST_CASE("uplink selector: old flaps stop counting after the flap window") {
    UplinkRules rules;
    rules.flap_window = 60s;
    UplinkSelector s = all_up({}, rules);
    flap(s, "wan0", t0 + 10s);
    flap(s, "wan0", t0 + 20s);
    const auto back = s.health("wan0")->since();
    CHECK(s.hold(0, back) == 30s);
    // The 10 s flap leaves the window at 70 s; the one at 20 s alone: 15 s.
    CHECK(s.hold(0, t0 + 70s) == 15s);
}

TEST_CASE("uplink selector: all down leaves none active; the first back takes over at once") {
    UplinkSelector s = all_up();
    s.set_carrier("wan0", false, t0 + 10s);
    s.set_carrier("wan1", false, t0 + 11s);
    s.set_carrier("lte0", false, t0 + 12s);
    CHECK(s.active().empty());
    CHECK(s.switches().back().from == "lte0");
    CHECK(s.switches().back().to.empty());
    // lte0, the least preferred, comes back first: it takes the tunnels.
    s.set_carrier("lte0", true, t0 + 20s);
    CHECK(s.active().empty());  // not before a probe is answered
    CHECK(s.add_probe("lte0", {t0 + 20s, 50ms}, t0 + 20s + 50ms));
    CHECK(s.active() == Names{"lte0"});
    const UplinkSwitch& sw = s.switches().back();
    CHECK(sw.from.empty());
    CHECK(sw.to == "lte0");
    // No uplink carried the tunnels from lte0's failure at 12 s until now.
    CHECK(sw.interruption() == 8s + 50ms);
    // wan0 returning within its hold does not take over from a working lte0.
    bring_up(s, "wan0", t0 + 21s);
    CHECK(s.active() == Names{"lte0"});
}

TEST_CASE("uplink selector: when the active fails, a preferred uplink inside its hold is taken anyway") {
    UplinkSelector s = all_up();
    flap(s, "wan0", t0 + 10s);  // healthy again, held
    REQUIRE(s.active() == Names{"wan1"});
    s.set_carrier("wan1", false, t0 + 14s);
    CHECK(s.active() == Names{"wan0"});
    CHECK_FALSE(s.switches().back().failback);
    CHECK(s.switches().back().why == "carrier lost");
}

TEST_CASE("uplink selector: active_active uses every healthy uplink") {
    UplinkSelector s = all_up({.failover = true, .active_active = true});
    CHECK(s.active() == Names{"wan0", "wan1", "lte0"});
    CHECK(s.add_probe("wan1", {t0 + 1s, std::nullopt}, t0 + 2s) == false);
    s.set_carrier("wan1", false, t0 + 3s);
    CHECK(s.active() == Names{"wan0", "lte0"});
    CHECK(s.switches().back().from == "wan1");
    CHECK(s.switches().back().to == "wan0,lte0");
    CHECK(s.failovers() == 1);
    // Back: active again at once, no hold (nothing moves off another uplink).
    s.set_carrier("wan1", true, t0 + 4s);
    s.add_probe("wan1", {t0 + 4s, 5ms}, t0 + 4s);
    CHECK(s.active() == Names{"wan0", "wan1", "lte0"});
    CHECK_FALSE(s.next_check(t0 + 4s));
}

TEST_CASE("uplink selector: without failover the first uplink stays active") {
    UplinkSelector s({"wan0", "wan1"}, UplinkRules{}, {.failover = false});
    CHECK(s.active() == Names{"wan0"});
    bring_up(s, "wan1", t0);
    s.set_carrier("wan0", false, t0 + 1s);
    CHECK(s.active() == Names{"wan0"});
    CHECK(s.switches().empty());
}

TEST_CASE("uplink selector: names that are not uplinks change nothing") {
    UplinkSelector s = all_up();
    CHECK_FALSE(s.set_carrier("eth9", false, t0 + 1s));
    CHECK(s.health("eth9") == nullptr);
    CHECK(s.active() == Names{"wan0"});
}

TEST_CASE("uplink selector: the damped hold never passes max_failback_hold") {
    UplinkRules rules;
    rules.failback_hold = 50s;
    rules.max_failback_hold = 120s;
    UplinkSelector s = all_up({}, rules);
    for (int i = 0; i < 3; ++i) flap(s, "wan0", t0 + 10s + i * 10s);
    const auto back = s.health("wan0")->since();
    CHECK(s.hold(0, back) == 120s);  // 50, 100, then 200 capped
    CHECK(s.tick(back + 120s));
    CHECK(s.active() == Names{"wan0"});
}
