#include "tests/unit/registry/harness.hpp"

using namespace avpn;
using namespace avpn::registry;
using namespace avpn::registry::test;
using namespace std::chrono_literals;

TEST_CASE("a site handshakes, registers and learns the contact the registry observed") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    auto rej = h.tick({&a}, a);
    CHECK(rej.empty());
    CHECK(a.client.has_session());
    REQUIRE(a.client.observed());
    CHECK(*a.client.observed() == a.from);
    CHECK(a.client.reachable(h.now));
    CHECK(h.server.registered() == 1);
    CHECK(h.server.counters().handshakes == 1);
    CHECK(h.server.counters().registrations == 1);
    // Keepalives are transport messages: no new handshake.
    for (int i = 0; i < 12; ++i) {
        h.now += 1s;
        CHECK(h.tick({&a}, a).empty());
    }
    CHECK(h.server.counters().handshakes == 1);
    CHECK(h.server.counters().registrations == 2);
}

TEST_CASE("a site learns its group's contacts and gets changes pushed") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    Site b = h.site(2, "corp", "198.51.100.2:50002");
    std::vector<Site*> all{&a, &b};
    a.client.want({pub_of(2), pub_of(3)});
    h.tick(all, a);
    REQUIRE(a.client.contacts().count(pub_of(2)));
    CHECK(a.client.contacts().at(pub_of(2)).state == ContactState::not_registered);
    CHECK(a.client.contacts().at(pub_of(3)).state == ContactState::not_registered);
    // b registers: a hears of it without asking again.
    h.tick(all, b);
    CHECK(h.server.counters().pushes == 1);
    REQUIRE(a.client.contacts().at(pub_of(2)).state == ContactState::registered);
    CHECK(*a.client.contacts().at(pub_of(2)).observed == b.from);
    // b's NAT mapping changes: pushed again.
    b.from = ep("198.51.100.2:50099");
    h.now += 11s;
    h.tick(all, b);
    CHECK(*a.client.contacts().at(pub_of(2)).observed == b.from);
    CHECK(h.server.counters().pushes == 2);
    // b goes silent: after the hold time a hears it is gone.
    for (int i = 0; i < 70; ++i) {
        h.now += 1s;
        h.tick({&a}, a);
        std::vector<std::pair<Site*, Bytes>> answers;  // a's client answers nothing to a push
        h.route(all, h.server.tick(h.now), answers);
    }
    CHECK(h.server.counters().expired == 1);
    CHECK(a.client.contacts().at(pub_of(2)).state == ContactState::not_registered);
}

TEST_CASE("contacts are handed only within the group") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    Site x = h.site(10, "lab", "192.0.2.10:10010");
    std::vector<Site*> all{&a, &x};
    h.tick(all, x);
    REQUIRE(x.client.observed());
    a.client.want({pub_of(10)});
    h.tick(all, a);
    REQUIRE(a.client.contacts().count(pub_of(10)));
    CHECK(a.client.contacts().at(pub_of(10)).state == ContactState::unknown);
    CHECK_FALSE(a.client.contacts().at(pub_of(10)).observed);
    // and nothing is pushed across when x's contact changes
    x.from = ep("192.0.2.10:10011");
    h.now += 11s;
    h.tick(all, x);
    CHECK(h.server.counters().pushes == 0);
}

TEST_CASE("a key registers only in the groups that list it") {
    auto h = Harness::make();
    Site a = h.site(1, "lab", "203.0.113.1:40001");  // a corp member naming lab
    auto rej = h.tick({&a}, a);
    REQUIRE(rej.size() == 1);
    CHECK(rej[0].why.find("not a member of group \"lab\"") != std::string::npos);
    CHECK(h.server.counters().not_member == 1);
    Site s = h.site(50, "corp", "203.0.113.50:1");  // nobody's key
    CHECK(h.tick({&s}, s).size() == 1);
    Site n = h.site(1, "nosuch", "203.0.113.1:40001");
    CHECK(h.tick({&n}, n).size() == 1);
    CHECK(h.server.counters().not_member == 3);
    CHECK(h.server.registered() == 0);
    CHECK(h.server.sessions() == 0);
}

TEST_CASE("an initiation for another registry's key costs one BLAKE2s and is counted") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001", 0, pub_of(99));
    auto rej = h.tick({&a}, a);
    REQUIRE(rej.size() == 1);
    CHECK(h.server.counters().mac1_invalid == 1);
    CHECK(h.server.counters().handshake_failed == 0);
    CHECK_FALSE(a.client.has_session());
}

TEST_CASE("forged initiations are rejected: every flipped byte, with mac1 recomputed where anyone can") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    auto out = a.client.tick(h.now, h.wall());
    REQUIRE(out);
    const Bytes good = (*out)[0];
    const Key32 mac1 = *keying::mac1_key(pub_of(Harness::kRegistrySeed));
    for (size_t i = 0; i < kInitiationLen - 32; ++i) {
        if (i >= 8 && i < 12) continue;  // the sender index: below
        Bytes bad = good;
        bad[i] ^= 0x01;
        auto m = keying::keyed_blake2s_128(mac1, {ByteView(bad).first(bad.size() - 32)});
        std::copy(m->begin(), m->end(), bad.end() - 32);
        CHECK_MESSAGE(!h.server.on_datagram(bad, a.from, h.now), "byte ", i);
    }
    CHECK(h.server.counters().handshakes == 0);
    CHECK(h.server.counters().handshake_failed > 0);
    // The sender index only says where the reply goes (as in WireGuard, it is
    // under mac1 alone): changed, the registry answers an index the site does
    // not wait for, and the site drops the answer.
    Bytes moved = good;
    moved[8] ^= 1;
    auto m = keying::keyed_blake2s_128(mac1, {ByteView(moved).first(moved.size() - 32)});
    std::copy(m->begin(), m->end(), moved.end() - 32);
    auto answer = h.server.on_datagram(moved, ep("203.0.113.99:1"), h.now);  // a.from spent its budget above
    REQUIRE(answer);
    CHECK_FALSE(a.client.on_datagram((*answer)[0].datagram, h.now));
    CHECK_FALSE(a.client.has_session());
}

TEST_CASE("a replayed initiation is rejected by its timestamp and counted; a replayed registration too") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    auto out = a.client.tick(h.now, h.wall());
    REQUIRE(out);
    const Bytes init = (*out)[0];
    auto resp = h.server.on_datagram(init, a.from, h.now);
    REQUIRE(resp);
    auto back = a.client.on_datagram((*resp)[0].datagram, h.now);
    REQUIRE(back);
    REQUIRE(back->size() == 1);  // the registration
    const Bytes reg = (*back)[0];
    REQUIRE(h.server.on_datagram(reg, a.from, h.now));
    h.now += 1s;
    auto replay_init = h.server.on_datagram(init, ep("192.0.2.66:666"), h.now);
    REQUIRE_FALSE(replay_init);
    CHECK(h.server.counters().handshake_replayed == 1);
    // A captured registration sent again from elsewhere must not move a's contact.
    auto replay_reg = h.server.on_datagram(reg, ep("192.0.2.66:666"), h.now);
    REQUIRE_FALSE(replay_reg);
    CHECK(h.server.counters().replayed == 1);
    Site watcher = h.site(2, "corp", "198.51.100.2:2");
    watcher.client.want({pub_of(1)});
    h.tick({&watcher}, watcher);
    CHECK(*watcher.client.contacts().at(pub_of(1)).observed == a.from);
}

TEST_CASE("the group key is mixed in: a site with another group key gets no session") {
    auto h = Harness::make({}, 77);
    Site good = h.site(1, "corp", "203.0.113.1:40001", 77);
    h.tick({&good}, good);
    CHECK(good.client.has_session());
    Site wrong = h.site(2, "corp", "203.0.113.2:40002", 78);
    h.tick({&wrong}, wrong);
    CHECK_FALSE(wrong.client.has_session());
    Site none = h.site(3, "corp", "203.0.113.3:40003");
    h.tick({&none}, none);
    CHECK_FALSE(none.client.has_session());
    CHECK(h.server.registered() == 1);
}

TEST_CASE("handshakes are rate limited per source address before any DH") {
    auto h = Harness::make();
    int limited = 0;
    for (int i = 0; i < 10; ++i) {
        Site a = h.site(1, "corp", "203.0.113.1:40001");
        for (auto& e : h.tick({&a}, a))
            if (e.why.find("rate limit") != std::string::npos) ++limited;
    }
    CHECK(limited == 5);  // burst 5
    CHECK(h.server.counters().rate_limited == 5);
    CHECK(h.server.counters().handshakes == 5);
    h.now += 1s;  // 20 a second refill
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    CHECK(h.tick({&a}, a).empty());
}

TEST_CASE("a site's authenticated messages are rate limited; a forger cannot spend its budget") {
    ServerConfig c;
    c.transport_burst = 3;
    c.transport_per_second = 1;
    auto h = Harness::make(std::move(c));
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    CHECK(h.tick({&a}, a).empty());  // registration: 1 of 3
    // Forged messages on a's session index (it is on the wire) spend nothing.
    auto out = a.client.tick(h.now + 20s, h.wall());  // a keepalive (then the filtering test), to copy its index
    REQUIRE(out);
    REQUIRE(out->size() == 2);
    for (int i = 0; i < 50; ++i) {
        Bytes forged = (*out)[0];
        forged[20] ^= uint8_t(i + 1);
        auto r = h.server.on_datagram(forged, ep("192.0.2.66:666"), h.now);
        CHECK_FALSE(r);
    }
    CHECK(h.server.counters().bad_tag == 50);
    CHECK(h.server.counters().rate_limited == 0);
    int limited = 0;
    for (uint8_t i = 0; i < 5; ++i) {
        a.client.want({pub_of(uint8_t(2 + i))});
        for (auto& e : h.tick({&a}, a))
            if (e.why.find("rate") != std::string::npos) ++limited;
    }
    CHECK(limited == 3);  // 2 left in the burst
    CHECK(h.server.counters().rate_limited == 3);
    h.now += 1s;
    a.client.want({pub_of(3)});
    CHECK(h.tick({&a}, a).empty());
}

TEST_CASE("a restarted registry is re-registered with within one keepalive plus the answer timeout") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    Site b = h.site(2, "corp", "198.51.100.2:2");
    a.client.want({pub_of(2)});
    h.tick({&a, &b}, a);
    h.tick({&a, &b}, b);
    REQUIRE(a.client.contacts().at(pub_of(2)).state == ContactState::registered);
    h.server = Harness::make().server;  // soft state: all gone
    const Time restart = h.now;
    while (h.server.registered() < 2 && h.now - restart < 30s) {
        h.now += 100ms;
        h.tick({&a, &b}, a);
        h.tick({&a, &b}, b);
    }
    CHECK(h.server.registered() == 2);
    CHECK(h.now - restart <= 11s + 2s + 100ms);
    // a asked again for b on its new session, so b's contact reached it again.
    CHECK(h.server.counters().queries >= 1);
    CHECK(a.client.contacts().at(pub_of(2)).state == ContactState::registered);
    CHECK(a.client.reachable(h.now));
}

TEST_CASE("the client is unreachable after 60 s without an answer and handshakes again every 5 s") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    h.tick({&a}, a);
    REQUIRE(a.client.reachable(h.now));
    int initiations = 0;
    const Time lost = h.now;
    for (int i = 0; i < 700; ++i) {
        h.now += 100ms;
        auto out = a.client.tick(h.now, h.wall());  // never delivered
        REQUIRE(out);
        for (auto& b : *out)
            if (*keying::peek_type(b) == uint8_t(MessageType::initiation)) ++initiations;
    }
    CHECK_FALSE(a.client.reachable(h.now));
    CHECK(a.client.reachable(lost + 59s));
    CHECK(initiations >= 12);
    CHECK(initiations <= 14);
}

TEST_CASE("sessions rekey on the client's schedule and the registry drops old ones") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    for (int i = 0; i < 1300; ++i) {
        h.now += 1s;
        h.tick({&a}, a);
        (void)h.server.tick(h.now);
    }
    CHECK(h.server.counters().handshakes == 3);  // at 0, 600 and 1200 s
    CHECK(h.server.sessions() == 1);
    CHECK(h.server.registered() == 1);
}

TEST_CASE("per-site state is bounded: interests stop at the limit") {
    ServerConfig c;
    c.max_interests = 2;
    auto h = Harness::make(std::move(c));
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    a.client.want({pub_of(2), pub_of(3), pub_of(4)});
    h.tick({&a}, a);
    Site b = h.site(2, "corp", "203.0.113.2:2");
    Site c3 = h.site(3, "corp", "203.0.113.3:3");
    Site d = h.site(4, "corp", "203.0.113.4:4");
    for (Site* s : {&b, &c3, &d}) h.tick({&a, &b, &c3, &d}, *s);
    // Two of the three are watched; the third was answered but is not pushed.
    CHECK(h.server.counters().pushes == 2);
    int registered = 0;
    for (const auto& [k, e] : a.client.contacts()) registered += e.state == ContactState::registered;
    CHECK(registered == 2);
}

TEST_CASE("the server's state goes when sites go: soft state") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    a.client.want({pub_of(2)});
    h.tick({&a}, a);
    CHECK(h.server.sessions() == 1);
    h.now += 800s;
    (void)h.server.tick(h.now);
    CHECK(h.server.sessions() == 0);
    CHECK(h.server.registered() == 0);
    CHECK(h.server.stats_line().find("registered=0 sessions=0") != std::string::npos);
}

TEST_CASE("register_now registers at once with a moved address; no session, no registration") {
    auto h = Harness::make();
    Site a = h.site(1, "corp", "203.0.113.1:40001");
    CHECK_FALSE(a.client.register_now(h.now));
    h.tick({&a}, a);
    a.from = ep("203.0.113.1:40999");  // the uplink changed
    auto b = a.client.register_now(h.now);
    REQUIRE(b);
    CHECK(h.deliver({&a}, a, {*b}).empty());
    CHECK(*a.client.observed() == a.from);
    CHECK(h.server.counters().registrations == 2);
}
