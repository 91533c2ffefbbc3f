// Two PeerSessions, one per site, wired through a simulated network with a
// fake clock. Each side's "kernel" holds exactly the SAs the side last
// applied; data packets go out on the kernel's outbound SA every 100 ms and
// arrive only where the receiver's kernel has an inbound SA with the same
// SPI and key. So a lost packet means an SA switch broke make-before-break.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>

#include "plugins/keying/peer_session.hpp"

using namespace avpn::keying;
using namespace std::chrono_literals;

namespace {

struct Message {
    Time at;
    int to;  // 0 or 1
    ActionKind kind;
    uint64_t session = 0;  // the sender's session id
    uint32_t spi = 0;
    SaHalf data;  // a data packet: the SA it was sent on
};

SessionTimers fast_timers() {
    SessionTimers t;
    t.rekey_after = 30s;
    t.rekey_grace = 10s;
    t.linger = 5s;
    t.confirm_timeout = 8s;
    t.keepalive = 3s;
    t.dead_after = 10s;
    t.handshake_retry = 1000ms;
    return t;
}

struct Sim {
    Time now{};
    std::unique_ptr<PeerSession> side[2];
    PeerSas kernel[2];
    std::deque<Message> wire;
    bool link_up[2] = {true, true};  // messages from side i get through
    std::map<uint64_t, uint64_t> paired;  // a session id -> the other side's id
    // The handshake a side answered: initiator's spi -> (responder session, keys).
    struct Answer {
        uint64_t responder_session, initiator_session;
        SaHalf to_initiator, to_responder;
    };
    std::map<std::pair<int, uint32_t>, Answer> answers;
    uint64_t next_id = 1;
    int delivered = 0, lost = 0, handshakes = 0;
    bool counting = false;

    explicit Sim(SessionTimers t = fast_timers()) {
        side[0] = std::make_unique<PeerSession>(t, true, std::array<uint32_t, 2>{0x100, 0x200});
        side[1] = std::make_unique<PeerSession>(t, false, std::array<uint32_t, 2>{0x300, 0x400});
    }

    void send(int from, ActionKind kind, uint64_t session, uint32_t spi) {
        if (!link_up[from]) return;
        wire.push_back({now + 20ms, 1 - from, kind, session, spi, {}});
    }

    void run(int who, const std::vector<Action>& actions) {
        for (const Action& a : actions) {
            switch (a.kind) {
            case ActionKind::apply: kernel[who] = side[who]->sas(); break;
            case ActionKind::send_initiation: send(who, a.kind, 0, a.spi); break;
            case ActionKind::send_response:
            case ActionKind::send_confirm:
            case ActionKind::send_keepalive: send(who, a.kind, a.session_id, a.spi); break;
            default: break;
            }
        }
    }

    void deliver(const Message& m) {
        const int to = m.to, from = 1 - to;
        PeerSession& s = *side[to];
        switch (m.kind) {
        case ActionKind::send_initiation: {
            if (!s.accepts_initiation()) return;
            Answer a;
            a.responder_session = next_id++;
            a.initiator_session = next_id++;
            a.to_initiator = {m.spi, next_id++};
            a.to_responder = {s.inbound_spi_for_response(), next_id++};
            answers[{from, m.spi}] = a;
            paired[a.responder_session] = a.initiator_session;
            paired[a.initiator_session] = a.responder_session;
            run(to, s.on_initiation({a.responder_session, a.to_responder, a.to_initiator}, now));
            break;
        }
        case ActionKind::send_response: {
            // The response names the initiator's SPI it answers.
            auto it = answers.find({to, kernel_pending_spi(to, m.session)});
            if (it == answers.end()) return;
            const Answer& a = it->second;
            ++handshakes;
            run(to, s.on_response({a.initiator_session, a.to_initiator, a.to_responder}, now));
            break;
        }
        case ActionKind::send_confirm:
        case ActionKind::send_keepalive: {
            auto it = paired.find(m.session);
            if (it != paired.end()) run(to, s.on_transport(it->second, now));
            break;
        }
        default: {  // data
            bool ok = false;
            for (const SaHalf& in : kernel[to].inbound) ok |= in == m.data;
            if (counting) (ok ? delivered : lost)++;
        }
        }
    }

    // The SPI the initiator offered in the handshake the responder's session answers.
    uint32_t kernel_pending_spi(int initiator, uint64_t responder_session) const {
        for (const auto& [k, a] : answers)
            if (k.first == initiator && a.responder_session == responder_session) return k.second;
        return 0;
    }

    void step() {
        now += 100ms;
        for (int i = 0; i < 2; ++i) {
            run(i, side[i]->tick(now));
            if (kernel[i].outbound && link_up[i])
                wire.push_back({now + 20ms, 1 - i, ActionKind::peer_up /* data */, 0, 0, *kernel[i].outbound});
        }
        while (!wire.empty() && wire.front().at <= now) {
            Message m = wire.front();
            wire.pop_front();
            deliver(m);
        }
    }

    void advance(std::chrono::milliseconds d) {
        for (auto end = now + d; now < end;) step();
    }

    bool both_up() const { return side[0]->up() && side[1]->up(); }
};

}  // namespace

TEST_CASE("two fresh sites come up, leader's handshake wins, and rotation loses no packet") {
    Sim sim;
    sim.advance(1s);
    CHECK(sim.both_up());
    CHECK(sim.side[0]->epoch() == 1);
    CHECK(sim.side[1]->epoch() == 1);
    REQUIRE(sim.kernel[0].outbound);
    REQUIRE(sim.kernel[1].outbound);

    sim.counting = true;
    sim.advance(130s);  // rekey_after 30 s: at least 4 rotations
    INFO("delivered " << sim.delivered << " lost " << sim.lost);
    CHECK(sim.side[0]->epoch() >= 5);
    CHECK(sim.side[1]->epoch() == sim.side[0]->epoch());
    CHECK(sim.lost == 0);
    CHECK(sim.delivered > 2500);
    // Never more than a current, an unconfirmed and a lingering SA inbound.
    CHECK(sim.kernel[0].inbound.size() <= 3);
    CHECK(sim.kernel[1].inbound.size() <= 3);
}

TEST_CASE("old inbound SAs go after the linger time; the kernel holds one pair at rest") {
    Sim sim;
    sim.advance(36s);  // one rotation at 30 s, linger 5 s past
    CHECK(sim.side[0]->epoch() == 2);
    CHECK(sim.kernel[0].inbound.size() == 1);
    CHECK(sim.kernel[1].inbound.size() == 1);
    CHECK(sim.kernel[0].inbound[0] == *sim.kernel[1].outbound);
    CHECK(sim.kernel[1].inbound[0] == *sim.kernel[0].outbound);
    // The SPI alternates with each session.
    CHECK(sim.kernel[0].inbound[0].spi == 0x200);
}

TEST_CASE("a restarted side handshakes afresh and traffic resumes within a second") {
    for (int restarted : {0, 1}) {
        CAPTURE(restarted);
        Sim sim;
        sim.advance(12s);
        REQUIRE(sim.both_up());
        // SIGKILL + start, or down + apply: no session, its SAs gone.
        sim.side[restarted] = std::make_unique<PeerSession>(fast_timers(), restarted == 0,
                                                            restarted == 0 ? std::array<uint32_t, 2>{0x100, 0x200}
                                                                           : std::array<uint32_t, 2>{0x300, 0x400});
        sim.kernel[restarted] = {};
        sim.counting = true;
        sim.advance(1s);
        CHECK(sim.both_up());
        const int lost_during_restart = sim.lost;
        CHECK(lost_during_restart <= 6);  // about one round trip of 100 ms packets
        sim.advance(60s);
        CHECK(sim.lost == lost_during_restart);
    }
}

TEST_CASE("a lost confirm: the responder switches on the next keepalive, before the old SA goes") {
    Sim sim;
    sim.advance(2s);
    REQUIRE(sim.both_up());
    sim.counting = true;
    // Drop exactly the confirm of the next rotation (the leader, side 0, initiates).
    bool dropped = false;
    for (int i = 0; i < 400 && !dropped; ++i) {
        sim.step();
        for (auto it = sim.wire.begin(); it != sim.wire.end(); ++it)
            if (it->kind == ActionKind::send_confirm) {
                sim.wire.erase(it);
                dropped = true;
                break;
            }
    }
    REQUIRE(dropped);
    sim.advance(20s);
    CHECK(sim.lost == 0);
    CHECK(sim.side[1]->epoch() == sim.side[0]->epoch());
}

TEST_CASE("a silent peer is marked down after dead_after and comes back by handshake") {
    Sim sim;
    sim.advance(2s);
    REQUIRE(sim.both_up());
    sim.link_up[1] = false;  // side 1's packets no longer arrive (its last one came at ~0.1 s)
    sim.advance(7s);
    CHECK(sim.side[0]->up());
    sim.advance(4s);  // dead_after 10 s since the last one
    CHECK_FALSE(sim.side[0]->up());
    CHECK(sim.side[0]->initiating());
    sim.advance(5s);
    CHECK(sim.side[0]->initiations_unanswered() >= 4);
    sim.link_up[1] = true;
    sim.advance(2s);
    CHECK(sim.both_up());
    CHECK(sim.side[0]->initiations_unanswered() == 0);
}

TEST_CASE("soft expire rotates at once; hard expire drops the session and starts over") {
    Sim sim;
    sim.advance(2s);
    REQUIRE(sim.both_up());
    const uint32_t epoch = sim.side[1]->epoch();
    // The follower's outbound SA reaches its soft byte limit.
    sim.run(1, sim.side[1]->on_expire(sim.kernel[1].outbound->spi, false, sim.now));
    sim.advance(1s);
    CHECK(sim.side[1]->epoch() == epoch + 1);

    sim.counting = true;
    auto actions = sim.side[0]->on_expire(sim.kernel[0].outbound->spi, true, sim.now);
    REQUIRE(!actions.empty());
    CHECK(actions.front().kind == ActionKind::apply);
    CHECK(std::find(actions.begin(), actions.end(), Action{ActionKind::peer_down}) != actions.end());
    sim.run(0, actions);
    CHECK_FALSE(sim.kernel[0].outbound);
    sim.advance(1s);
    CHECK(sim.both_up());
    CHECK(sim.kernel[0].outbound);
}

TEST_CASE("a leader whose initiation went unanswered until its retry answers the follower's") {
    // Behind a NAT the follower's contact can be a port the NAT holds for the
    // leader's dropped datagram, so the leader's initiations never arrive
    // while the follower's do, from another port: without giving way the two
    // would never meet.
    PeerSession leader(fast_timers(), true, {0x100, 0x200});
    Time t{};
    REQUIRE(leader.tick(t).size() == 1);  // its initiation, lost
    Time retry_at{};
    for (Time at = t + 100ms; at < t + 30s && retry_at == Time{}; at += 100ms) {
        CHECK_FALSE(leader.accepts_initiation());  // the first may still be answered
        for (const Action& a : leader.tick(at))
            if (a.kind == ActionKind::send_initiation) retry_at = at;
    }
    REQUIRE(retry_at != Time{});
    CHECK(leader.accepts_initiation());
    auto b = leader.on_initiation({7, {leader.inbound_spi_for_response(), 1}, {0x300, 2}}, retry_at);
    REQUIRE(b.size() == 2);
    CHECK(b[1].kind == ActionKind::send_response);
}

TEST_CASE("a leader with its own handshake pending ignores the follower's initiation") {
    PeerSession leader(fast_timers(), true, {0x100, 0x200});
    Time t{};
    auto a = leader.tick(t);
    REQUIRE(a.size() == 1);
    CHECK(a[0] == Action{ActionKind::send_initiation, 0, 0x100});
    CHECK_FALSE(leader.accepts_initiation());
    CHECK(leader.on_initiation({7, {0x100, 1}, {0x300, 2}}, t).empty());

    PeerSession follower(fast_timers(), false, {0x300, 0x400});
    CHECK(follower.tick(t)[0].kind == ActionKind::send_initiation);
    CHECK(follower.accepts_initiation());
    auto b = follower.on_initiation({9, {follower.inbound_spi_for_response(), 3}, {0x100, 4}}, t);
    REQUIRE(b.size() == 2);
    CHECK(b[0].kind == ActionKind::apply);  // inbound installed before the response leaves
    CHECK(b[1] == Action{ActionKind::send_response, 9, 0x300});
    CHECK_FALSE(follower.initiating());
    CHECK_FALSE(follower.sas().outbound);  // no sending before the confirm
    auto c = follower.on_transport(9, t + 50ms);
    CHECK(c.front().kind == ActionKind::apply);
    CHECK(follower.sas().outbound == SaHalf{0x100, 4});
}

TEST_CASE("a response that does not answer the pending initiation changes nothing") {
    PeerSession s(fast_timers(), true, {0x100, 0x200});
    Time t{};
    (void)s.tick(t);
    CHECK(s.on_response({5, {0x200, 1}, {0x300, 2}}, t).empty());
    CHECK(s.on_transport(5, t).empty());
    CHECK(s.sas() == PeerSas{});
    CHECK_FALSE(s.up());
}

TEST_CASE("an initiation held back for the site's budget waits for the next tick, and is not lost") {
    PeerSession s(fast_timers(), true, {0x40000001u, 0x60000001u});
    const Time t0{};
    auto initiations = [](const std::vector<Action>& a) {
        return std::count_if(a.begin(), a.end(), [](const Action& x) { return x.kind == ActionKind::send_initiation; });
    };
    CHECK(s.initiation_due(t0));
    CHECK(initiations(s.tick(t0, false)) == 0);
    CHECK(s.initiation_due(t0 + 250ms));  // still due: nothing was sent
    CHECK(initiations(s.tick(t0 + 250ms, true)) == 1);
    // Sent: the retry is due only after handshake_retry (1 s here), held or not.
    CHECK_FALSE(s.initiation_due(t0 + 500ms));
    CHECK(initiations(s.tick(t0 + 500ms, true)) == 0);
    CHECK(s.initiation_due(t0 + 1250ms));
    CHECK(initiations(s.tick(t0 + 1250ms, false)) == 0);
    CHECK(s.initiations_unanswered() == 1);  // a held retry is no attempt
    CHECK(initiations(s.tick(t0 + 1500ms, true)) == 1);
    CHECK(s.initiations_unanswered() == 2);
}
