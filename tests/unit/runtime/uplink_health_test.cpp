// UplinkHealth (orchestrator/runtime/uplink_health.hpp): hard failures are
// down at once, soft ones after 3 consecutive lost probes, and an uplink is
// up again only when probes sent after its return are answered; latency and
// loss over the last probes.
#include <doctest/doctest.h>

#include "orchestrator/runtime/uplink_health.hpp"

using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

const UplinkClock::time_point t0{std::chrono::hours(1)};

ProbeResult answered(UplinkClock::time_point sent, std::chrono::microseconds rtt) { return {sent, rtt}; }
ProbeResult lost(UplinkClock::time_point sent) { return {sent, std::nullopt}; }

// Carrier, address and default route present at t0.
void link_up(UplinkHealth& h) {
    h.set_carrier(true, t0);
    h.set_address(true, t0);
    h.set_default_route(true, t0);
}

// The link up at t0 and one probe answered.
UplinkHealth healthy(const UplinkRules& rules = {}) {
    UplinkHealth h(rules);
    link_up(h);
    h.add_probe(answered(t0, 20ms), t0 + 20ms);
    REQUIRE(h.up());
    return h;
}

}  // namespace

TEST_CASE("uplink health: down until link facts and an answered probe say otherwise") {
    UplinkHealth h(UplinkRules{});
    CHECK_FALSE(h.up());
    CHECK(h.why() == "no carrier");
    h.set_carrier(true, t0);
    CHECK(h.why() == "no address");
    h.set_address(true, t0);
    CHECK(h.why() == "no default route");
    h.set_default_route(true, t0);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "no probe answered yet");
    h.add_probe(answered(t0 + 1ms, 10ms), t0 + 11ms);
    CHECK(h.up());
    CHECK(h.why().empty());
    CHECK(h.since() == t0 + 11ms);
    CHECK_FALSE(h.has_failed());  // coming up the first time is no failure
}

TEST_CASE("uplink health: without probing the link facts alone decide") {
    UplinkRules rules;
    rules.probing = false;
    UplinkHealth h(rules);
    link_up(h);
    CHECK(h.up());
    h.set_default_route(false, t0 + 1s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "no default route");
}

TEST_CASE("uplink health: carrier loss is down at once, however well probes went") {
    UplinkHealth h = healthy();
    h.set_carrier(false, t0 + 5s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "carrier lost");
    CHECK(h.since() == t0 + 5s);
    CHECK(h.failed_since() == t0 + 5s);
    CHECK(h.has_failed());
    CHECK(h.flaps(t0 + 5s) == 1);
}

TEST_CASE("uplink health: a lost address or default route is down at once") {
    UplinkHealth a = healthy();
    a.set_address(false, t0 + 1s);
    CHECK_FALSE(a.up());
    CHECK(a.why() == "no address");
    UplinkHealth r = healthy();
    r.set_default_route(false, t0 + 1s);
    CHECK_FALSE(r.up());
    CHECK(r.why() == "no default route");
}

TEST_CASE("uplink health: 2 lost probes leave it up, the 3rd takes it down") {
    UplinkHealth h = healthy();
    h.add_probe(lost(t0 + 1s), t0 + 2s);
    h.add_probe(lost(t0 + 2s), t0 + 3s);
    CHECK(h.up());
    h.add_probe(lost(t0 + 3s), t0 + 4s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "3 probes lost");
    CHECK(h.since() == t0 + 4s);
    // The path was gone when the first of the three was sent.
    CHECK(h.failed_since() == t0 + 1s);
}

TEST_CASE("uplink health: an answer breaks the losing streak") {
    UplinkHealth h = healthy();
    h.add_probe(lost(t0 + 1s), t0 + 2s);
    h.add_probe(lost(t0 + 2s), t0 + 3s);
    h.add_probe(answered(t0 + 3s, 30ms), t0 + 3s + 30ms);
    h.add_probe(lost(t0 + 4s), t0 + 5s);
    h.add_probe(lost(t0 + 5s), t0 + 6s);
    CHECK(h.up());
}

TEST_CASE("uplink health: a late verdict on an older probe does not extend the streak") {
    UplinkHealth h = healthy();
    h.add_probe(lost(t0 + 1s), t0 + 2s);
    h.add_probe(lost(t0 + 2s), t0 + 3s);
    h.add_probe(answered(t0 + 4s, 5ms), t0 + 4s + 5ms);
    // The probe sent at 3 s times out after the 4 s one was answered.
    h.add_probe(lost(t0 + 3s), t0 + 4s + 500ms);
    CHECK(h.up());
    CHECK(h.stats().lost == 3);  // it still counts as lost in the figures
}

TEST_CASE("uplink health: the lost-probe count is a rule") {
    UplinkRules rules;
    rules.lost_probes_for_down = 5;
    UplinkHealth h = healthy(rules);
    for (int i = 1; i <= 4; ++i) h.add_probe(lost(t0 + i * 1s), t0 + i * 1s + 1s);
    CHECK(h.up());
    h.add_probe(lost(t0 + 5s), t0 + 6s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "5 probes lost");
}

TEST_CASE("uplink health: after carrier loss, up only once a probe sent after its return is answered") {
    UplinkHealth h = healthy();
    h.set_carrier(false, t0 + 5s);
    h.set_carrier(true, t0 + 8s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "no probe answered yet");
    // Sent before the carrier returned: says nothing about the link now.
    h.add_probe(answered(t0 + 7s, 1ms), t0 + 8s + 1ms);
    CHECK_FALSE(h.up());
    h.add_probe(answered(t0 + 9s, 20ms), t0 + 9s + 20ms);
    CHECK(h.up());
    CHECK(h.since() == t0 + 9s + 20ms);
    CHECK_FALSE(h.failed_since());
}

TEST_CASE("uplink health: after a soft failure, up again when probes are answered") {
    UplinkHealth h = healthy();
    // A 4th loss keeps it down; the first answer after them brings it back.
    for (int i = 1; i <= 4; ++i) h.add_probe(lost(t0 + i * 1s), t0 + i * 1s + 1s);
    REQUIRE_FALSE(h.up());
    REQUIRE(h.why() == "3 probes lost");
    h.add_probe(answered(t0 + 5s, 40ms), t0 + 5s + 40ms);
    CHECK(h.up());
    CHECK(h.why().empty());
}

TEST_CASE("uplink health: more answers for up is a rule") {
    UplinkRules rules;
    rules.answered_probes_for_up = 2;
    UplinkHealth h(rules);
    link_up(h);
    h.add_probe(answered(t0, 1ms), t0 + 1ms);
    CHECK_FALSE(h.up());
    h.add_probe(answered(t0 + 1s, 1ms), t0 + 1s + 1ms);
    CHECK(h.up());
}

TEST_CASE("uplink health: latency and loss over the last probes") {
    UplinkRules rules;
    rules.stats_window = 4;
    UplinkHealth h(rules);
    CHECK(h.stats().probes == 0);
    CHECK(h.stats().loss() == 0.0);
    CHECK_FALSE(h.stats().latency);
    h.add_probe(answered(t0, 100ms), t0 + 100ms);  // falls out of the window below
    h.add_probe(answered(t0 + 1s, 10ms), t0 + 1s);
    h.add_probe(lost(t0 + 2s), t0 + 3s);
    h.add_probe(answered(t0 + 3s, 30ms), t0 + 3s);
    h.add_probe(lost(t0 + 4s), t0 + 5s);
    UplinkStats s = h.stats();
    CHECK(s.probes == 4);
    CHECK(s.lost == 2);
    CHECK(s.loss() == doctest::Approx(0.5));
    REQUIRE(s.latency);
    CHECK(*s.latency == 20ms);
    REQUIRE(s.last_rtt);
    CHECK(*s.last_rtt == 30ms);
}

TEST_CASE("uplink health: flaps are counted within the window only") {
    UplinkRules rules;
    rules.probing = false;
    rules.flap_window = 60s;
    UplinkHealth h(rules);
    h.set_address(true, t0);
    h.set_default_route(true, t0);
    for (int i = 0; i < 3; ++i) {
        h.set_carrier(true, t0 + i * 10s);
        h.set_carrier(false, t0 + i * 10s + 5s);
    }
    CHECK(h.flaps(t0 + 30s) == 3);
    CHECK(h.next_flap_expiry(t0 + 30s) == t0 + 65s);
    CHECK(h.flaps(t0 + 70s) == 2);
    CHECK(h.flaps(t0 + 200s) == 0);
    CHECK(h.has_failed());
}

TEST_CASE("uplink health: losses count only once probing is on, a streak under way included") {
    UplinkRules rules;
    rules.probing = false;
    UplinkHealth h(rules);
    link_up(h);
    REQUIRE(h.up());  // link facts alone
    for (int i = 0; i < 4; ++i) h.add_probe(lost(t0 + std::chrono::seconds(i)), t0 + std::chrono::seconds(i) + 500ms);
    CHECK(h.up());
    // Another uplink's target answered: the streak of 4 already counts.
    h.set_probing(true, t0 + 5s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "3 probes lost");
    REQUIRE(h.failed_since());
    CHECK(*h.failed_since() == t0);
    // Off again (the targets went): down only for probes, so up.
    h.set_probing(false, t0 + 6s);
    CHECK(h.up());
}

TEST_CASE("uplink health: probing turned on leaves a healthy uplink up and off leaves a dead link down") {
    UplinkRules rules;
    rules.probing = false;
    UplinkHealth h(rules);
    link_up(h);
    h.add_probe(lost(t0 + 1s), t0 + 1500ms);
    h.set_probing(true, t0 + 2s);
    CHECK(h.up());  // one loss is no streak
    h.add_probe(lost(t0 + 2s), t0 + 2500ms);
    CHECK(h.up());
    h.add_probe(lost(t0 + 3s), t0 + 3500ms);
    CHECK_FALSE(h.up());
    CHECK(*h.failed_since() == t0 + 1s);
    h.set_carrier(false, t0 + 4s);
    h.set_probing(false, t0 + 5s);
    CHECK_FALSE(h.up());
    CHECK(h.why() == "carrier lost");
}
