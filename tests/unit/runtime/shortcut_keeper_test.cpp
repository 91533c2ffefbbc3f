// ShortcutKeeper (orchestrator/runtime/shortcut_keeper.hpp): when a shortcut
// is tried, comes up, is dropped for lost probes or idleness, and how the
// back-off keeps a failing pair on the hub without sticking it there.
#include <doctest/doctest.h>

#include "orchestrator/runtime/shortcut_keeper.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

using Time = ShortcutKeeper::Time;
const Time t0{std::chrono::hours(1)};
const ShortcutKeeper::Key b2{"corp", "branch2"};

ShortcutSeen seen(uint64_t packets, bool handshake = false, std::optional<bool> probe = std::nullopt) {
    ShortcutSeen s;
    s.packets = packets;
    s.contact = true;
    s.eligible = true;
    s.handshake = handshake;
    s.probe = probe;
    return s;
}

std::optional<ShortcutState> state(const ShortcutKeeper& k) {
    auto st = k.states();
    auto it = st.find(b2);
    if (it == st.end()) return std::nullopt;
    return it->second;
}

// Drives the keeper from idle through opening and a handshake to up, one
// look a second, with traffic at each look; returns the last look's time.
Time bring_up(ShortcutKeeper& k, Time t, uint64_t& packets) {
    k.update({{b2, seen(packets)}}, t);  // the baseline
    k.update({{b2, seen(packets += 10)}}, t += 1s);
    REQUIRE_FALSE(state(k));  // opening: not planned yet
    REQUIRE(k.opening() == std::vector<ShortcutKeeper::Key>{b2});
    k.update({{b2, seen(packets += 10)}}, t += 1s);
    k.update({{b2, seen(packets += 10)}}, t += 1s);
    REQUIRE_FALSE(state(k));
    t += 1s;  // the initiating end opens 3 s (opening_for + answer_lead)
    k.update({{b2, seen(packets += 10)}}, t);
    REQUIRE(state(k) == ShortcutState::trying);
    t += 1s;
    k.update({{b2, seen(packets += 10, true)}}, t);
    REQUIRE(state(k) == ShortcutState::up);
    return t;
}

}  // namespace

TEST_CASE("shortcut keeper: traffic opens the NATs, then a try, and a handshake brings it up") {
    ShortcutKeeper k;
    k.update({{b2, seen(100)}}, t0);
    CHECK_FALSE(state(k));  // the first reading is a baseline: a restart counts nothing old
    k.update({{b2, seen(100)}}, t0 + 1s);
    CHECK_FALSE(state(k));  // no traffic
    CHECK(k.opening().empty());
    k.update({{b2, seen(0)}}, t0 + 1s);  // the table was replaced: its counters start at 0 again
    CHECK(k.opening().empty());
    k.update({{b2, seen(100)}}, t0 + 1s);
    CHECK(k.opening() == std::vector<ShortcutKeeper::Key>{b2});  // 100 packets since
    k = ShortcutKeeper{};
    k.update({{b2, seen(100)}}, t0);
    CHECK_FALSE(k.take_changed());
    auto log = k.update({{b2, seen(105)}}, t0 + 2s);
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("corp/branch2 opening") != std::string::npos);
    CHECK(k.opening() == std::vector<ShortcutKeeper::Key>{b2});
    CHECK_FALSE(state(k));  // openers only, for opening_for (2 s)
    CHECK_FALSE(k.take_changed());
    k.update({{b2, seen(107)}}, t0 + 3s);
    k.update({{b2, seen(108)}}, t0 + 4s);
    CHECK_FALSE(state(k));
    log = k.update({{b2, seen(108)}}, t0 + 5s);
    CHECK(state(k) == ShortcutState::trying);
    CHECK(k.take_changed());
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("corp/branch2 trying") != std::string::npos);
    CHECK(k.opening() == std::vector<ShortcutKeeper::Key>{b2});  // the openers go on
    k.update({{b2, seen(110)}}, t0 + 6s);
    CHECK(state(k) == ShortcutState::trying);
    CHECK_FALSE(k.take_changed());
    k.update({{b2, seen(115, true)}}, t0 + 7s);
    CHECK(state(k) == ShortcutState::up);
    CHECK(k.take_changed());
    auto rows = k.status(t0 + 5s);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].state == "up");
    CHECK(rows[0].ups == 1);
}

TEST_CASE("shortcut keeper: a pair its NATs forbid, or without a contact, stays on the hub") {
    ShortcutKeeper k;
    ShortcutSeen s = seen(0);
    s.eligible = false;
    s.why_not = "branch2's NAT type is unfriendly";
    k.update({{b2, s}}, t0);
    s.packets = 500;
    k.update({{b2, s}}, t0 + 1s);
    CHECK_FALSE(state(k));
    CHECK(k.status(t0 + 1s).at(0).why == "branch2's NAT type is unfriendly");
    ShortcutSeen n = seen(500);
    n.contact = false;
    k.update({{b2, n}}, t0 + 2s);
    n.packets = 900;
    k.update({{b2, n}}, t0 + 3s);
    CHECK_FALSE(state(k));
    CHECK(k.status(t0 + 3s).at(0).why == "no contact");
}

TEST_CASE("shortcut keeper: no handshake in time gives up, backs off, then tries again") {
    ShortcutKeeper k;
    uint64_t p = 0;
    k.update({{b2, seen(p)}}, t0);
    k.update({{b2, seen(p += 1)}}, t0 + 1s);
    k.update({{b2, seen(p += 1)}}, t0 + 4s);
    REQUIRE(state(k) == ShortcutState::trying);
    Time t = t0 + 4s;
    for (int i = 0; i < 11; ++i) k.update({{b2, seen(p += 1)}}, t += 1s);
    CHECK(state(k) == ShortcutState::trying);  // 11 s: still within trying_for (12 s)
    auto log = k.update({{b2, seen(p += 1)}}, t += 1s);
    CHECK_FALSE(state(k));
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("no handshake within 12 s; next try in 30 s") != std::string::npos);
    CHECK(k.status(t).at(0).state == "held");
    // Traffic during the back-off does not try again...
    k.update({{b2, seen(p += 1)}}, t + 29s);
    CHECK_FALSE(state(k));
    // ... after it, it does; a second failure doubles the back-off.
    k.update({{b2, seen(p += 1)}}, t + 30s);
    CHECK(k.status(t + 30s).at(0).state == "opening");
    k.update({{b2, seen(p += 1)}}, t + 33s);
    CHECK(state(k) == ShortcutState::trying);
    log = k.update({{b2, seen(p += 1)}}, t + 45s);
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("next try in 60 s") != std::string::npos);
    CHECK(k.status(t + 45s).at(0).failures == 2);
}

TEST_CASE("shortcut keeper: three lost probes after the settling time drop an up shortcut") {
    ShortcutKeeper k;
    uint64_t p = 0;
    Time t = bring_up(k, t0, p);
    // Losses while the other end may still be moving do not count.
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    CHECK(state(k) == ShortcutState::up);
    k.update({{b2, seen(p += 5, true, true)}}, t += 1s);
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    CHECK(state(k) == ShortcutState::up);  // two in a row
    k.update({{b2, seen(p += 5, true, true)}}, t += 1s);  // an answer resets the run
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    CHECK(state(k) == ShortcutState::up);
    auto log = k.update({{b2, seen(p += 5, true, false)}}, t += 1s);
    CHECK_FALSE(state(k));
    CHECK(k.take_changed());
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("down: 3 probes in a row unanswered; next try in 30 s") != std::string::npos);
    CHECK(log[0].find("through the hub") != std::string::npos);
}

TEST_CASE("shortcut keeper: an idle shortcut is torn down and the next packet tries again at once") {
    ShortcutKeeper k;
    uint64_t p = 0;
    Time t = bring_up(k, t0, p);
    for (int i = 0; i < 59; ++i) k.update({{b2, seen(p, true, true)}}, t += 1s);
    CHECK(state(k) == ShortcutState::up);
    auto log = k.update({{b2, seen(p, true, true)}}, t += 1s);
    CHECK_FALSE(state(k));
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("idle for 60 s") != std::string::npos);
    CHECK(log[0].find("next try") == std::string::npos);
    k.update({{b2, seen(p += 1)}}, t += 1s);
    CHECK(k.status(t).at(0).state == "opening");
}

TEST_CASE("shortcut keeper: a running one outlives the registries, not its contact or its config") {
    ShortcutKeeper k;
    uint64_t p = 0;
    Time t = bring_up(k, t0, p);
    ShortcutSeen s = seen(p += 5, true, true);
    s.eligible = false;  // the registries are gone: NAT types unknown
    s.why_not = "this site's NAT type is unknown";
    k.update({{b2, s}}, t += 1s);
    CHECK(state(k) == ShortcutState::up);
    s.contact = false;
    k.update({{b2, s}}, t += 1s);
    CHECK_FALSE(state(k));
    k.take_changed();
    // Forgotten when the config no longer watches it.
    k.update({{b2, seen(p)}}, t += 1s);
    k.update({{b2, seen(p += 1)}}, t += 1s);
    k.update({{b2, seen(p += 1)}}, t += 3s);
    REQUIRE(state(k) == ShortcutState::trying);
    k.take_changed();
    k.update({}, t += 1s);
    CHECK_FALSE(state(k));
    CHECK(k.take_changed());
    CHECK(k.status(t).empty());
}

TEST_CASE("shortcut keeper: the end that does not initiate only answers while trying") {
    ShortcutKeeper k;
    auto s = [](uint64_t p, bool handshake = false) {
        ShortcutSeen x = seen(p, handshake);
        x.initiate = false;
        return x;
    };
    k.update({{b2, s(0)}}, t0);
    k.update({{b2, s(1)}}, t0 + 1s);
    k.update({{b2, s(2)}}, t0 + 3s);
    CHECK(state(k) == ShortcutState::answering);  // opening_for only: it must be ready first
    k.update({{b2, s(3, true)}}, t0 + 4s);
    CHECK(state(k) == ShortcutState::up);  // up is up at both ends
}
