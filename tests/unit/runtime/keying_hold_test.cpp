// KeyingHold (orchestrator/runtime/keying_hold.hpp): SA-changing key-exchange
// work waits up to the hold and shares one converge with whatever comes
// meanwhile; nothing waits past the first work's deadline; messages keep
// their order.
#include <doctest/doctest.h>

#include "orchestrator/runtime/keying_hold.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace std::chrono_literals;

namespace {

XfrmKeying::Work work(bool apply, std::vector<uint8_t> tags) {
    XfrmKeying::Work w;
    w.apply = apply;
    for (uint8_t t : tags) w.sends.push_back({"g", Endpoint{}, keying::Bytes{t}});
    return w;
}

std::vector<uint8_t> tags(const XfrmKeying::Work& w) {
    std::vector<uint8_t> out;
    for (const auto& s : w.sends) out.push_back(s.bytes.at(0));
    return out;
}

}  // namespace

TEST_CASE("keying hold: messages that change no SA go at once while nothing is held") {
    KeyingHold h(100ms);
    const auto t0 = KeyingHold::Clock::now();
    auto now = h.add(work(false, {1, 2}), t0);
    REQUIRE(now);
    CHECK_FALSE(now->apply);
    CHECK(tags(*now) == std::vector<uint8_t>{1, 2});
    CHECK_FALSE(h.due_at());
}

TEST_CASE("keying hold: SA changes wait; later work joins them in order; the deadline stays the first's") {
    KeyingHold h(100ms);
    const auto t0 = KeyingHold::Clock::now();
    CHECK_FALSE(h.add(work(true, {1}), t0));
    REQUIRE(h.due_at());
    CHECK(*h.due_at() == t0 + 100ms);
    // A confirm that needs no converge must not overtake the held response.
    CHECK_FALSE(h.add(work(false, {2}), t0 + 40ms));
    CHECK_FALSE(h.add(work(true, {3, 4}), t0 + 90ms));
    CHECK(*h.due_at() == t0 + 100ms);
    XfrmKeying::Work all = h.take();
    CHECK(all.apply);  // one converge for the three
    CHECK(tags(all) == std::vector<uint8_t>{1, 2, 3, 4});
    CHECK_FALSE(h.due_at());
    // Empty again: the next message without SA changes goes at once.
    CHECK(h.add(work(false, {5}), t0 + 150ms));
}

TEST_CASE("keying hold: clear drops everything") {
    KeyingHold h(100ms);
    const auto t0 = KeyingHold::Clock::now();
    CHECK_FALSE(h.add(work(true, {2}), t0));
    h.clear();
    CHECK_FALSE(h.due_at());
    CHECK(tags(h.take()).empty());
}

TEST_CASE("keying hold: a hold of 0 runs SA changes at once, with what was held before") {
    KeyingHold h(0ms);
    const auto t0 = KeyingHold::Clock::now();
    auto now = h.add(work(true, {1}), t0);
    REQUIRE(now);
    CHECK(now->apply);
    CHECK(tags(*now) == std::vector<uint8_t>{1});
    CHECK_FALSE(h.due_at());
}
