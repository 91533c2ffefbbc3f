// The filtering test (docs/registry.md, "Filtering"): the registry answers
// from its own address and probes from its alternate; the harness's NAT
// lets the probe in only when the site's NAT is permissive.
#include "tests/unit/registry/harness.hpp"

using namespace avpn;
using namespace avpn::registry;
using namespace avpn::registry::test;
using namespace std::chrono_literals;

namespace {
ServerConfig with_alternate() {
    ServerConfig c;
    c.alternate = ep("192.0.2.10:9351");
    return c;
}
// Ticks `s` once a second for `seconds`.
void run(Harness& h, std::vector<Site*> sites, Site& s, int seconds) {
    for (int i = 0; i < seconds; ++i) {
        h.now += 1s;
        auto rej = h.tick(sites, s);
        CHECK(rej.empty());
    }
}
}  // namespace

TEST_CASE("filtering: a probe that gets through makes the site permissive, and its peers learn it") {
    auto h = Harness::make(with_alternate());
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    Site b = h.site(2, "corp", "198.51.100.2:50002");
    a.nat_permissive = true;
    std::vector<Site*> all{&a, &b};
    b.client.want({pub_of(1)});
    h.tick(all, b);
    CHECK(a.client.filtering() == Filtering::unknown);
    h.tick(all, a);  // handshake, registration
    CHECK(a.client.filtering() == Filtering::unknown);  // tested once registered
    run(h, all, a, 1);  // the test: answer and probe
    CHECK(h.server.counters().filter_tests == 1);
    CHECK(a.client.filtering() == Filtering::permissive);
    REQUIRE(a.client.alternate());
    CHECK(*a.client.alternate() == ep("192.0.2.10:9351"));
    // The verdict is registered at the next tick, not at the next keepalive,
    // and pushed to b with a's contact.
    REQUIRE(b.client.contacts().count(pub_of(1)));
    CHECK(b.client.contacts().at(pub_of(1)).filtering == Filtering::unknown);
    run(h, all, a, 1);
    CHECK(b.client.contacts().at(pub_of(1)).filtering == Filtering::permissive);
    // No test again within the session: one is enough.
    run(h, all, a, 30);
    CHECK(h.server.counters().filter_tests == 1);
    CHECK(a.client.filtering() == Filtering::permissive);
}

TEST_CASE("filtering: no probe within 2 s of the answer is strict; a retest starts from unknown") {
    auto h = Harness::make(with_alternate());
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    std::vector<Site*> all{&a};
    h.tick(all, a);
    run(h, all, a, 1);
    CHECK(h.server.counters().filter_tests == 1);
    CHECK(a.client.filtering() == Filtering::unknown);  // the answer came, the probe may follow
    run(h, all, a, 2);
    CHECK(a.client.filtering() == Filtering::strict);
    // Another uplink: another NAT, which lets the probe in. avpnd registers
    // at once (RegistryClients::follow_uplink); the test waits for that
    // registration's answer, so the probe goes to the new mapping.
    a.client.retest_filtering();
    a.nat_permissive = true;
    a.from = ep("203.0.113.9:40001");
    CHECK(a.client.filtering() == Filtering::unknown);
    auto reg = a.client.register_now(h.now);
    REQUIRE(reg);
    CHECK(h.deliver(all, a, {*reg}).empty());
    REQUIRE(a.client.observed());
    CHECK(*a.client.observed() == a.from);
    run(h, all, a, 1);
    CHECK(h.server.counters().filter_tests == 2);
    CHECK(a.client.filtering() == Filtering::permissive);
}

TEST_CASE("filtering: a registry without an alternate leaves it unknown; an unanswered test is asked 3 times") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    a.nat_permissive = true;
    std::vector<Site*> all{&a};
    h.tick(all, a);
    run(h, all, a, 10);
    CHECK(h.server.counters().filter_tests == 1);
    CHECK_FALSE(a.client.alternate());
    CHECK(a.client.filtering() == Filtering::unknown);
    // Tests that go unanswered (a registry that does not know them: its
    // answers are dropped here) are retried every 5 s, 3 times in all.
    Site c = h.site(3, "corp", "203.0.113.3:40003");
    h.tick({&c}, c);  // registered; the test goes out at the next tick
    int tests = 0;
    for (int i = 0; i < 30; ++i) {
        h.now += 1s;
        auto out = c.client.tick(h.now, h.wall());
        REQUIRE(out);
        for (const Bytes& b : *out)
            if (b.size() == kTransportOverhead + 1) ++tests;  // a 1-byte body: the test
        // Registrations still reach the registry (the session stays alive).
        for (Bytes& b : *out)
            if (b.size() != kTransportOverhead + 1) h.deliver({&c}, c, {b});
    }
    CHECK(tests == 3);
    CHECK(c.client.filtering() == Filtering::unknown);
}

TEST_CASE("filtering: a probe is taken only from its own session and for the observed contact") {
    auto h = Harness::make(with_alternate());
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    Site b = h.site(2, "corp", "198.51.100.2:50002");
    h.tick({&a}, a);
    h.tick({&b}, b);
    h.now += 1s;
    auto out = b.client.tick(h.now, h.wall());  // b's test
    REQUIRE(out);
    REQUIRE(out->size() == 1);
    auto replies = h.server.on_datagram((*out)[0], b.from, h.now);
    REQUIRE(replies);
    REQUIRE(replies->size() == 2);
    const Outgoing& probe = (*replies)[1];
    CHECK(probe.from_alternate);
    CHECK(probe.to == b.from);
    // a is waiting for a probe of its own too; b's does not open in a's session.
    auto a_out = a.client.tick(h.now, h.wall());
    REQUIRE(a_out);
    CHECK(a.client.awaiting_probe());
    CHECK_FALSE(a.client.try_probe(probe.datagram));
    CHECK(a.client.filtering() == Filtering::unknown);
    // Truncated or flipped: not a probe.
    Bytes flipped = probe.datagram;
    flipped[flipped.size() - 1] ^= 1;
    CHECK_FALSE(b.client.try_probe(flipped));
    CHECK_FALSE(b.client.try_probe(ByteView(probe.datagram).first(30)));
    CHECK(b.client.filtering() == Filtering::unknown);
    CHECK(b.client.try_probe(probe.datagram));
    CHECK(b.client.filtering() == Filtering::permissive);
    // Replayed: the session's window refuses it (and the verdict stands).
    CHECK_FALSE(b.client.try_probe(probe.datagram));
}
