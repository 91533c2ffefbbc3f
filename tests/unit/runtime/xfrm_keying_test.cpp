// avpnd's key exchange between two sites, without sockets or a kernel: two
// XfrmKeyings (real Noise handshakes, real key files) pass their datagrams
// to each other, and the SAs each would have the planner install are
// compared: every SA one site sends on must be one the other receives on,
// with the same SPI and the same key bytes.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "common/crypto.hpp"
#include "key_file.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"
#include "orchestrator/runtime/xfrm_expiry.hpp"
#include "orchestrator/runtime/xfrm_keying.hpp"
#include "plugins/keying/handshake_wire.hpp"

using namespace avpn;
using namespace avpn::runtime;
using avpn::test::KeyFile;
using avpn::test::make_key;
using namespace std::chrono_literals;

namespace {

struct Pair {
    std::string dir;
    KeyFile key[2];
    Endpoint at[2] = {{IpAddr::v4(0xc0000201), 51820}, {IpAddr::v4(0xc6336407), 51820}};
    const char* name[2] = {"hq", "branch1"};
    std::unique_ptr<XfrmKeying> site[2];
    keying::Time now{};
    std::vector<XfrmKeying::Send> wire;  // in flight
    int applies[2] = {0, 0};
    bool stopped[2] = {false, false};  // SIGSTOP: no ticks, its datagrams are lost

    Pair() {
        char tmpl[] = "/tmp/avpn-keying-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
        key[0] = make_key(dir, "hq");
        key[1] = make_key(dir, "branch1");
        for (int i = 0; i < 2; ++i) start(i);
    }
    ~Pair() { (void)std::system(("rm -rf " + dir).c_str()); }

    // A fresh avpnd at site i (start, or restart after SIGKILL).
    void start(int i) {
        keying::SessionTimers t;
        t.rekey_after = 30s;
        t.linger = 5s;
        // Initiations carry the simulated wall clock: real time barely moves
        // while a test simulates minutes, and a responder accepts only
        // increasing timestamps.
        site[i] = std::make_unique<XfrmKeying>(t, [this] {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
            return keying::tai64n_from_unix(1'800'000'000 + uint64_t(ns / 1'000'000'000), uint32_t(ns % 1'000'000'000));
        });
        planner::KeyingGroupView v{"demo", key[i].path, 51820, {}};
        v.peers.push_back({name[1 - i], key[1 - i].public_b64, at[1 - i],
                           {0x40000000u + uint32_t(i + 1), 0x60000000u + uint32_t(i + 1)}});
        Errors e = site[i]->configure({v});
        REQUIRE_MESSAGE(e.empty(), (e.empty() ? "" : e[0].str()));
    }

    void run(int i, XfrmKeying::Work&& w) {
        if (w.apply) ++applies[i];
        for (auto& s : w.sends) wire.push_back(std::move(s));
    }

    void step() {
        now += 100ms;
        for (int i = 0; i < 2; ++i)
            if (!stopped[i]) run(i, site[i]->tick(now));
        auto flight = std::move(wire);
        wire.clear();
        for (auto& s : flight) {
            const int to = s.to == at[0] ? 0 : 1;
            if (!stopped[to]) run(to, site[to]->receive("demo", 0, at[1 - to], s.bytes, now));
        }
    }
    void advance(std::chrono::milliseconds d) {
        for (auto end = now + d; now < end;) step();
    }

    // The peers site i would give the planner as dead.
    std::set<std::pair<std::string, std::string>> dead(int i) const {
        PlanInputs in;
        site[i]->add_inputs(in);
        return in.dead_peers;
    }
    XfrmSessionSas sas(int i) const {
        PlanInputs in;
        site[i]->add_inputs(in);
        CHECK(in.xfrm_handshake);
        return in.xfrm_sessions.at({"demo", name[1 - i]});
    }
    std::vector<uint8_t> key_of(int i, const SessionSa& sa) const {
        auto k = site[i]->key(sa.key_id, 160);
        REQUIRE_MESSAGE(k.ok(), k.error().str());
        return *k;
    }
    // Each side's outbound SA is an inbound SA of the other, key included.
    void check_mirrored() const {
        for (int i = 0; i < 2; ++i) {
            XfrmSessionSas mine = sas(i), theirs = sas(1 - i);
            REQUIRE(mine.outbound);
            bool found = false;
            for (const SessionSa& in : theirs.inbound)
                if (in.spi == mine.outbound->spi) {
                    found = true;
                    CHECK(key_of(1 - i, in) == key_of(i, *mine.outbound));
                }
            CHECK_MESSAGE(found, name[i] << "'s outbound SPI is not an inbound SA of the peer");
        }
    }
};

}  // namespace

TEST_CASE("two sites handshake: mirrored SAs with equal keys, the SPIs each receiver chose") {
    Pair p;
    for (int i = 0; i < 2; ++i) CHECK_FALSE(p.sas(i).outbound);  // nothing before a handshake
    p.advance(1s);
    p.check_mirrored();
    CHECK(p.sas(0).inbound.size() == 1);
    CHECK(p.sas(0).inbound[0].spi == 0x40000001);  // hq receives on its own SPI
    CHECK(p.sas(1).inbound[0].spi == 0x40000002);
    CHECK(p.sas(0).outbound->spi == 0x40000002);
    CHECK(p.applies[0] >= 1);
    CHECK(p.applies[1] >= 1);
    auto st = p.site[0]->status(p.now);
    REQUIRE(st.size() == 1);
    CHECK(st[0].up);
    CHECK(st[0].epoch == 1);
    CHECK(st[0].peer == "branch1");
}

TEST_CASE("rotation: new keys and the other SPI, still mirrored; old keys forgotten") {
    Pair p;
    p.advance(1s);
    auto first = p.key_of(0, *p.sas(0).outbound);
    p.advance(31s);  // the leader rotates at 30 s
    p.check_mirrored();
    CHECK(p.site[0]->status(p.now)[0].epoch == 2);
    CHECK(p.key_of(0, *p.sas(0).outbound) != first);
    p.advance(6s);  // past the linger time
    CHECK(p.sas(0).inbound.size() == 1);
    CHECK(p.sas(0).inbound[0].spi == 0x60000001);
}

TEST_CASE("a restarted site (SIGKILL, no state) handshakes afresh; its peer accepts") {
    Pair p;
    p.advance(1s);
    auto before = p.key_of(1, *p.sas(1).outbound);
    p.start(1);
    CHECK_FALSE(p.sas(1).outbound);
    p.advance(1s);
    p.check_mirrored();
    CHECK(p.key_of(1, *p.sas(1).outbound) != before);
}

TEST_CASE("a replayed initiation and a replayed keepalive are rejected") {
    Pair p;
    // Capture branch1's and hq's first messages as they leave.
    p.advance(1s);
    p.now += 100ms;
    std::vector<XfrmKeying::Send> captured;
    for (int i = 0; i < 2; ++i) {
        auto w = p.site[i]->tick(p.now + 10s);  // a keepalive is due
        captured.insert(captured.end(), w.sends.begin(), w.sends.end());
    }
    REQUIRE_FALSE(captured.empty());
    // Deliver each once (accepted), then again (rejected).
    for (const auto& s : captured) {
        const int to = s.to == p.at[0] ? 0 : 1;
        (void)p.site[to]->receive("demo", 0, p.at[1 - to], s.bytes, p.now + 10s);
    }
    const size_t rejected = p.site[0]->rejected() + p.site[1]->rejected();
    for (const auto& s : captured) {
        const int to = s.to == p.at[0] ? 0 : 1;
        auto w = p.site[to]->receive("demo", 0, p.at[1 - to], s.bytes, p.now + 10s);
        CHECK_FALSE(w.apply);
        CHECK(w.sends.empty());
    }
    CHECK(p.site[0]->rejected() + p.site[1]->rejected() == rejected + captured.size());
}

TEST_CASE("a stranger's key never gets SAs") {
    Pair p;
    // branch1 is configured with a wrong public key for hq.
    KeyFile other = make_key(p.dir, "other");
    planner::KeyingGroupView v{"demo", p.key[1].path, 51820, {}};
    v.peers.push_back({"hq", other.public_b64, p.at[0], {0x40000002, 0x60000002}});
    REQUIRE(p.site[1]->configure({v}).empty());
    p.advance(12s);
    CHECK_FALSE(p.sas(0).outbound);
    CHECK(p.sas(0).inbound.empty());
    CHECK_FALSE(p.sas(1).outbound);
    CHECK(p.site[0]->rejected() > 0);  // hq drops branch1's initiations (mac1 is for another key)
    auto st = p.site[1]->status(p.now);
    CHECK_FALSE(st[0].up);
    CHECK(st[0].initiations_unanswered >= 2);
    CHECK_FALSE(st[0].problem.empty());
}

TEST_CASE("a silent peer is dead after dead_after: in the plan's dead peers, re-planned, in status; then back") {
    Pair p;
    p.advance(1s);
    REQUIRE(p.site[0]->status(p.now)[0].up);
    CHECK(p.dead(0).empty());
    p.stopped[1] = true;  // branch1's avpnd is SIGSTOPped
    // Its last keepalive reached hq at most 10 s before: still alive for 25 s.
    p.advance(20s);
    CHECK(p.dead(0).empty());
    CHECK(p.site[0]->status(p.now)[0].up);
    const int applies = p.applies[0];
    p.advance(16s);  // past dead_after (35 s) since the last message
    CHECK(p.dead(0) == std::set<std::pair<std::string, std::string>>{{"demo", "branch1"}});
    CHECK(p.applies[0] > applies);  // the site re-plans without it
    auto st = p.site[0]->status(p.now);
    CHECK_FALSE(st[0].up);
    CHECK_MESSAGE(st[0].problem.rfind("no answer for ", 0) == 0, st[0].problem);
    // SIGCONT: hq's initiations (retried every 5 s) are answered again.
    p.stopped[1] = false;
    p.advance(7s);
    CHECK(p.dead(0).empty());
    CHECK(p.dead(1).empty());
    CHECK(p.site[0]->status(p.now)[0].up);
    CHECK(p.site[0]->status(p.now)[0].problem.empty());
    p.check_mirrored();
}

TEST_CASE("a peer never reached since avpnd started is dead only after dead_after") {
    Pair p;
    p.stopped[1] = true;  // never answers
    p.advance(30s);
    CHECK(p.dead(0).empty());  // not yet: it may simply not have answered its first initiation
    CHECK_FALSE(p.site[0]->status(p.now)[0].up);
    const int applies = p.applies[0];
    p.advance(6s);
    CHECK(p.dead(0) == std::set<std::pair<std::string, std::string>>{{"demo", "branch1"}});
    CHECK(p.applies[0] == applies + 1);
    CHECK_MESSAGE(p.site[0]->status(p.now)[0].problem.find("no answer for 3") == 0,
                  p.site[0]->status(p.now)[0].problem);
    p.stopped[1] = false;
    p.advance(6s);
    CHECK(p.dead(0).empty());
    p.check_mirrored();
}

TEST_CASE("a stranger's rejected initiations are the problem of the peer at its address") {
    Pair p;
    KeyFile other = make_key(p.dir, "other");
    planner::KeyingGroupView v{"demo", p.key[1].path, 51820, {}};
    v.peers.push_back({"hq", other.public_b64, p.at[0], {0x40000002, 0x60000002}});
    REQUIRE(p.site[1]->configure({v}).empty());
    p.advance(12s);
    // hq cannot even read branch1's initiations (their mac1 is for another
    // key); branch1 reads hq's, but hq's key is not the one it expects.
    auto hq = p.site[0]->status(p.now);
    CHECK(hq[0].problem == "its initiation was rejected: mac1 does not verify (not for our key)");
    CHECK(p.site[0]->last_rejected().find("initiation from " + p.at[1].str() + ": mac1 does not verify") !=
          std::string::npos);
    auto branch1 = p.site[1]->status(p.now);
    CHECK(branch1[0].problem == "its initiation was rejected: the key is not one of this site's peers in the group");
}

// avpnctl rekey, from each side in turn: with random keys either may be the
// leader, and both roles must be able to force a rotation (a follower's
// initiation is answered while the leader has none pending).
TEST_CASE("a forced rekey raises the epoch on both sides, SAs mirrored, from either side") {
    for (int i = 0; i < 2; ++i) {
        CAPTURE(i);
        Pair p;
        p.advance(1s);
        auto first = p.key_of(0, *p.sas(0).outbound);
        auto r = p.site[i]->rekey("demo", "");
        REQUIRE(r.ok());
        REQUIRE(r->size() == 1);
        CHECK((*r)[0].group == "demo");
        CHECK((*r)[0].peer == p.name[1 - i]);
        CHECK((*r)[0].epoch == 1);
        // The initiation leaves at the next tick; keep a copy to replay.
        auto w = p.site[i]->tick(p.now);
        REQUIRE(w.sends.size() == 1);
        auto type = keying::peek_type(w.sends[0].bytes);
        REQUIRE(type.ok());
        CHECK(*type == uint8_t(keying::MessageType::initiation));
        const XfrmKeying::Send initiation = w.sends[0];
        p.run(i, std::move(w));
        p.advance(1s);  // far sooner than the 30 s period
        for (int s = 0; s < 2; ++s) CHECK(p.site[s]->status(p.now)[0].epoch == 2);
        p.check_mirrored();
        CHECK(p.key_of(0, *p.sas(0).outbound) != first);

        // The captured initiation again: rejected as a replay, no new session.
        const int to = 1 - i;
        const size_t rejected = p.site[to]->rejected();
        auto again = p.site[to]->receive("demo", 0, p.at[i], initiation.bytes, p.now);
        CHECK_FALSE(again.apply);
        CHECK(again.sends.empty());
        CHECK(p.site[to]->rejected() == rejected + 1);
        CHECK(p.site[to]->last_rejected().find("replayed") != std::string::npos);
        p.advance(1s);
        for (int s = 0; s < 2; ++s) CHECK(p.site[s]->status(p.now)[0].epoch == 2);

        // A second forced rekey at once waits for the lingering SA of the
        // first (its SPI is the one the next session takes), then happens.
        REQUIRE(p.site[i]->rekey("demo", p.name[1 - i]).ok());
        p.advance(2s);
        CHECK(p.site[i]->status(p.now)[0].epoch == 2);
        p.advance(4s);  // linger is 5 s
        for (int s = 0; s < 2; ++s) CHECK(p.site[s]->status(p.now)[0].epoch == 3);
        p.check_mirrored();
    }
}

TEST_CASE("rekey names what it does not know") {
    Pair p;
    auto group = p.site[0]->rekey("nope", "");
    REQUIRE_FALSE(group.ok());
    CHECK(group.error().str() == "nope: rekey: no XFRM group of that name at this site");
    auto peer = p.site[0]->rekey("demo", "nobody");
    REQUIRE_FALSE(peer.ok());
    CHECK(peer.error().str() == "demo/nobody: rekey: no peer of that name in the group");
    CHECK_FALSE(p.site[0]->rekey("", "branch1").ok());
    auto all = p.site[0]->rekey("", "");
    REQUIRE(all.ok());
    CHECK(all->size() == 1);
    XfrmKeying none;
    auto empty = none.rekey("", "");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().why == "this site has no XFRM group");
}

// --- The kernel's SA expiries (xfrm_keying_expire.cpp, xfrm_expiry.cpp) ---

namespace {

constexpr uint32_t kIfId = 0x41560001;
constexpr uint32_t kReqid[2] = {0x41560010, 0x41560020};  // each site's reqid for its peer

// Both sites learn the group's if_id and the peer's reqid, as keying_views()
// gives them from the plan; sessions stay (same keys, same SPIs).
void with_kernel_ids(Pair& p) {
    for (int i = 0; i < 2; ++i) {
        planner::KeyingGroupView v{"demo", p.key[i].path, 51820, {}, kIfId};
        v.peers.push_back({p.name[1 - i], p.key[1 - i].public_b64, p.at[1 - i],
                           {0x40000000u + uint32_t(i + 1), 0x60000000u + uint32_t(i + 1)}, kReqid[i]});
        REQUIRE(p.site[i]->configure({v}).empty());
    }
}

nl::XfrmExpire expire_of(int site, uint32_t spi, bool hard) {
    nl::XfrmExpire e;
    e.spi = spi;
    e.proto = 50;
    e.hard = hard;
    e.if_id = kIfId;
    e.reqid = kReqid[site];
    e.bytes = 70000;
    e.packets = 50;
    return e;
}

bool sends_initiation(const XfrmKeying::Work& w) {
    for (const auto& s : w.sends) {
        auto type = keying::peek_type(s.bytes);
        if (type && *type == uint8_t(keying::MessageType::initiation)) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("a soft expire of an SA a session holds rekeys at once; the new SAs are mirrored") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    REQUIRE(p.site[0]->status(p.now)[0].epoch == 1);
    const auto old_key = p.key_of(0, *p.sas(0).outbound);
    const nl::XfrmExpire e = expire_of(0, p.sas(0).outbound->spi, false);
    CHECK(expire_is_avpns(e));
    auto w = p.site[0]->expire(e, p.now);
    REQUIRE(w);
    CHECK(sends_initiation(*w));
    REQUIRE(w->events.size() == 1);
    CHECK(w->events[0] == "demo/branch1: soft expire of SA 0x40000002 (out, 70000 bytes, 50 packets): rekeying");
    p.run(0, std::move(*w));
    p.advance(1s);  // far before the 30 s rotation
    CHECK(p.site[0]->status(p.now)[0].epoch == 2);
    CHECK(p.site[1]->status(p.now)[0].epoch == 2);
    p.check_mirrored();
    CHECK(p.key_of(0, *p.sas(0).outbound) != old_key);
    CHECK(p.sas(0).outbound->spi == 0x60000002);  // the other epoch bit
}

TEST_CASE("an inbound SA's soft expire at the other site rekeys as well") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    auto w = p.site[1]->expire(expire_of(1, p.sas(1).inbound[0].spi, false), p.now);
    REQUIRE(w);
    CHECK(w->events[0].find("(in, ") != std::string::npos);
    p.run(1, std::move(*w));
    p.advance(1s);
    CHECK(p.site[1]->status(p.now)[0].epoch == 2);
    p.check_mirrored();
}

TEST_CASE("expires of SAs no session holds are ignored and change nothing") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    const auto sas_before = p.sas(0);
    const uint32_t spi = sas_before.outbound->spi;
    nl::XfrmExpire charon = expire_of(0, spi, false);
    charon.reqid = 1;  // charon's reqids start at 1
    CHECK_FALSE(expire_is_avpns(charon));
    CHECK_FALSE(p.site[0]->expire(charon, p.now));
    nl::XfrmExpire interop = expire_of(0, spi, false);
    interop.if_id = planner::kInteropIfIdFirst;
    CHECK_FALSE(expire_is_avpns(interop));
    CHECK_FALSE(p.site[0]->expire(interop, p.now));
    nl::XfrmExpire other_group = expire_of(0, spi, true);
    other_group.if_id = kIfId + 1;
    CHECK(expire_is_avpns(other_group));  // avpn's markers, but no group of this site
    CHECK_FALSE(p.site[0]->expire(other_group, p.now));
    CHECK_FALSE(p.site[0]->expire(expire_of(0, 0x40000003, true), p.now));  // an SPI no session holds
    nl::XfrmExpire other_peer = expire_of(0, spi, true);
    other_peer.reqid = kReqid[0] + 1;
    CHECK_FALSE(p.site[0]->expire(other_peer, p.now));
    CHECK(p.sas(0) == sas_before);
    p.advance(5s);
    CHECK(p.site[0]->status(p.now)[0].epoch == 1);  // no rekey came of them
}

TEST_CASE("a hard expire drops the session whose SA the kernel deleted; a new handshake brings fresh keys") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    const auto old_key = p.key_of(0, *p.sas(0).outbound);
    const uint32_t old_spi = p.sas(0).outbound->spi;
    const uint64_t old_inbound_key = p.sas(0).inbound[0].key_id;
    auto w = p.site[0]->expire(expire_of(0, old_spi, true), p.now);
    REQUIRE(w);
    CHECK(w->apply);  // the session's other SA goes too
    CHECK(w->events[0].find("hard expire of SA 0x40000002 (out,") != std::string::npos);
    CHECK(w->events[0].find("the session that used it is dropped, handshaking anew") != std::string::npos);
    CHECK(sends_initiation(*w));
    CHECK_FALSE(p.sas(0).outbound);
    CHECK_FALSE(p.site[0]->key(old_inbound_key, 160).ok());  // no key of that session is left
    p.run(0, std::move(*w));
    p.advance(1s);
    p.check_mirrored();
    CHECK(p.key_of(0, *p.sas(0).outbound) != old_key);
    CHECK(p.site[0]->status(p.now)[0].up);
}

TEST_CASE("after an overrun a dump of the SAs shows the lost expiries; counters per peer and direction") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    auto held = p.site[0]->held_sas();
    REQUIRE(held.size() == 2);  // one inbound, one outbound
    auto kernel_sa = [&](const XfrmKeying::HeldSa& h, uint64_t bytes, uint64_t packets) {
        nl::XfrmSa sa;
        sa.spi = h.spi;
        sa.reqid = h.reqid;
        sa.if_id = h.if_id;
        sa.soft_bytes = 65536;
        sa.soft_packets = 1000;
        sa.observed_replay.bytes = bytes;
        sa.observed_replay.packets = packets;
        return sa;
    };
    const auto& in = held[0].inbound ? held[0] : held[1];
    const auto& out = held[0].inbound ? held[1] : held[0];
    CHECK(in.group == "demo");
    CHECK(in.peer == "branch1");
    CHECK(in.if_id == kIfId);
    CHECK(in.reqid == kReqid[0]);

    // Nothing expired: nothing found.
    CHECK(expiries_in_dump(held, {kernel_sa(in, 100, 1), kernel_sa(out, 200, 2)}).empty());
    // The outbound SA at its soft byte limit, the inbound one gone.
    auto found = expiries_in_dump(held, {kernel_sa(out, 65536, 40)});
    REQUIRE(found.size() == 2);
    for (const nl::XfrmExpire& e : found) {
        CHECK(e.hard == (e.spi == in.spi));
        CHECK(expire_is_avpns(e));
    }
    // At the packet limit alone.
    CHECK(expiries_in_dump(held, {kernel_sa(in, 10, 1000), kernel_sa(out, 10, 999)}).size() == 1);

    auto counters = sa_counters(held, {kernel_sa(in, 1000, 10), kernel_sa(out, 3000, 30)});
    REQUIRE(counters.size() == 1);
    const SaCounters& c = counters.at({"demo", "branch1"});
    CHECK(c.in_bytes == 1000);
    CHECK(c.in_packets == 10);
    CHECK(c.out_bytes == 3000);
    CHECK(c.out_packets == 30);
    // An SA the kernel lacks counts nothing.
    CHECK(sa_counters(held, {}).at({"demo", "branch1"}) == SaCounters{});
}

TEST_CASE("when expiries cannot be found again, every peer rotates") {
    Pair p;
    with_kernel_ids(p);
    p.advance(1s);
    auto w = p.site[0]->rotate_all(p.now);
    bool rekeying = sends_initiation(w);
    p.run(0, std::move(w));
    p.advance(1s);
    CHECK(rekeying);
    CHECK(p.site[0]->status(p.now)[0].epoch == 2);
    p.check_mirrored();
}

// A key goes into one created SA only: the port asking for it again (the SA
// was deleted by hand and a repair re-creates it, or its hard expiry was
// missed) would restart the SA's sequence numbers under the same key.
TEST_CASE("a key asked for a second created SA is refused, and the session makes way for a new handshake") {
    Pair p;
    p.advance(1s);
    p.check_mirrored();
    const SessionSa out = *p.sas(0).outbound;
    const uint32_t epoch = p.site[0]->status(p.now)[0].epoch;
    REQUIRE(p.site[0]->key(out.key_id, 160, true).ok());   // the create
    CHECK(p.site[0]->key(out.key_id, 160, false).ok());    // updates and replaces keep the sequence: fine
    CHECK(p.site[0]->key(out.key_id, 160, false).ok());
    auto again = p.site[0]->key(out.key_id, 160, true);     // a second create
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().why.find("repeat sequence numbers") != std::string::npos);
    // The next tick drops the session as a hard expiry would; a new one follows.
    auto w = p.site[0]->tick(p.now);
    CHECK(w.apply);
    bool said = false;
    for (const auto& e : w.events) said |= e.find("its key may not go into another") != std::string::npos;
    CHECK(said);
    p.run(0, std::move(w));
    CHECK_FALSE(p.site[0]->key(out.key_id, 160).ok());  // gone with its session
    p.advance(2s);
    CHECK(p.site[0]->status(p.now)[0].epoch > epoch);
    p.check_mirrored();
    CHECK(p.key_of(0, *p.sas(0).outbound) != std::vector<uint8_t>{});
    // Another session's key is not affected by the refusal of this one's.
    CHECK(p.site[0]->key(p.sas(0).outbound->key_id, 160, true).ok());
}

TEST_CASE("initiations are paced site-wide: a burst of 100, then 100 a second, every peer in turn") {
    char tmpl[] = "/tmp/avpn-keying-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    const KeyFile hub = make_key(dir, "hub");
    planner::KeyingGroupView v{"demo", hub.path, 51820, {}};
    const size_t n = 300;
    for (size_t i = 0; i < n; ++i) {
        const KeyFile k = make_key(dir, "spoke" + std::to_string(i));
        v.peers.push_back({"spoke" + std::to_string(i), k.public_b64,
                           Endpoint{IpAddr::v4(0x0a400000u + uint32_t(i)), 51820},
                           {0x40000000u + uint32_t(i), 0x60000000u + uint32_t(i)}});
    }
    XfrmKeying site;  // the default timers: retry after 5 s
    Errors e = site.configure({v});
    REQUIRE_MESSAGE(e.empty(), (e.empty() ? "" : e[0].str()));
    std::map<uint32_t, int> sent;  // by peer address: initiations so far
    auto tick = [&](keying::Time t) {
        size_t count = 0;
        for (const XfrmKeying::Send& s : site.tick(t).sends)
            if (!s.bytes.empty() && s.bytes.size() == keying::kInitiationLen) {
                ++count;
                ++sent[s.to.addr.v4_host_order()];
            }
        return count;
    };
    const keying::Time t0{};
    CHECK(tick(t0) == 100);  // the burst
    // 25 per 250 ms tick: every peer has its first initiation 2 s later.
    for (int k = 1; k <= 8; ++k) CHECK(tick(t0 + k * 250ms) == 25);
    REQUIRE(sent.size() == n);
    for (const auto& [addr, times] : sent) CHECK(times == 1);
    // Unanswered, each is due again 5 s after its first: the budget refilled
    // meanwhile serves them in the order they went, none twice before all.
    for (int k = 9; k <= 28; ++k) tick(t0 + k * 250ms);  // to 7 s
    for (const auto& [addr, times] : sent) CHECK(times == 2);
    (void)std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("a site with fewer peers than the burst initiates to all of them at once") {
    Pair p;  // one peer each side
    p.now = keying::Time{} + 1000s;
    bool initiation = false;
    for (const XfrmKeying::Send& s : p.site[0]->tick(p.now).sends)
        initiation |= s.bytes.size() == keying::kInitiationLen;
    CHECK(initiation);
}

TEST_CASE("a live peer's rotation goes before dead peers' retries when the pace is spent") {
    char tmpl[] = "/tmp/avpn-keying-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    keying::Time now{};
    auto wall = [&now] {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
        return keying::tai64n_from_unix(1'800'000'000 + uint64_t(ns / 1'000'000'000), uint32_t(ns % 1'000'000'000));
    };
    keying::SessionTimers t;  // retry after 5 s: 600 dead peers want 120 initiations a second
    t.linger = 5s;
    const KeyFile hub = make_key(dir, "hub"), live = make_key(dir, "live");
    const Endpoint hub_at{IpAddr::v4(0xc0000201), 51820};
    const size_t dead = 600, live_index = 300;  // mid-turn, where a fair turn alone would make it wait
    Endpoint live_at;
    planner::KeyingGroupView hv{"demo", hub.path, 51820, {}};
    for (size_t i = 0; i <= dead; ++i) {
        const bool is_live = i == live_index;
        const std::string name = is_live ? "live" : "dead" + std::to_string(i);
        const KeyFile k = is_live ? live : make_key(dir, name);
        const Endpoint at{IpAddr::v4(0x0a400000u + uint32_t(i)), 51820};
        if (is_live) live_at = at;
        hv.peers.push_back({name, k.public_b64, at, {0x40000000u + uint32_t(i), 0x60000000u + uint32_t(i)}});
    }
    planner::KeyingGroupView sv{"demo", live.path, 51820, {}};
    sv.peers.push_back({"hub", hub.public_b64, hub_at, {0x4000ffffu, 0x6000ffffu}});
    XfrmKeying h(t, wall), s(t, wall);
    REQUIRE(h.configure({hv}).empty());
    REQUIRE(s.configure({sv}).empty());

    // One 250 ms tick of both sites; datagrams between the hub and the live
    // spoke arrive, those to dead peers are lost. Returns the hub's
    // initiations: to the live spoke, and in all.
    auto step = [&] {
        now += 250ms;
        std::pair<int, int> initiations{0, 0};
        std::vector<XfrmKeying::Send> wire;
        for (auto& x : h.tick(now).sends) {
            if (x.bytes.size() == keying::kInitiationLen) {
                ++initiations.second;
                if (x.to == live_at) ++initiations.first;
            }
            wire.push_back(std::move(x));
        }
        for (auto& x : s.tick(now).sends) wire.push_back(std::move(x));
        while (!wire.empty()) {
            auto flight = std::move(wire);
            wire.clear();
            for (auto& x : flight) {
                XfrmKeying::Work w;
                if (x.to == live_at) w = s.receive("demo", 0, hub_at, x.bytes, now);
                else if (x.to == hub_at) w = h.receive("demo", 0, live_at, x.bytes, now);
                for (auto& y : w.sends) wire.push_back(std::move(y));
            }
        }
        return initiations;
    };
    auto live_status = [&] {
        for (const auto& st : h.status(now))
            if (st.peer == "live") return st;
        FAIL("no status for the live peer");
        return XfrmKeying::PeerStatus{};
    };
    for (int k = 0; k < 80; ++k) step();  // 20 s: everyone tried, the dead retried
    REQUIRE(live_status().up);
    for (int round = 0; round < 4; ++round) {
        const uint32_t epoch = live_status().epoch;
        CHECK(step().second == 25);  // the pace is spent: the dead take every initiation
        REQUIRE(h.rekey("demo", "live").ok());
        const auto [to_live, all] = step();
        CHECK_MESSAGE(to_live == 1, "round " << round << ": the live peer's rotation waited");
        CHECK(all == 25);
        for (int k = 0; k < 40; ++k) step();  // 10 s: past the linger of the session before
        CHECK(live_status().epoch == epoch + 1);
        CHECK(live_status().up);
    }
    (void)std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("no initiation goes while the socket has a backlog; the next tick without one sends it") {
    Pair p;  // one peer each side, no session yet
    p.now = keying::Time{} + 1000s;
    auto initiations = [&](bool backlog) {
        size_t n = 0;
        for (const XfrmKeying::Send& s : p.site[0]->tick(p.now, backlog).sends) n += s.bytes.size() == keying::kInitiationLen;
        return n;
    };
    CHECK(initiations(true) == 0);
    p.now += 250ms;
    CHECK(initiations(true) == 0);
    p.now += 250ms;
    CHECK(initiations(false) == 1);  // still due: the backlog only held it
}

TEST_CASE("roaming: an authenticated keepalive from a new address moves the peer's SAs there; a replay does not") {
    Pair p;
    p.advance(3s);
    p.check_mirrored();
    // branch1 moved to its backup uplink and announces itself from there.
    const Endpoint backup{IpAddr::v4(0xc6336408), 51820};
    p.at[1] = backup;
    XfrmKeying::Work hello = p.site[1]->announce(p.now);
    REQUIRE(hello.sends.size() == 1);
    const keying::Bytes captured = hello.sends[0].bytes;
    XfrmKeying::Work w = p.site[0]->receive("demo", 0, backup, captured, p.now);
    CHECK(w.apply);  // the SAs' outer destination changed
    REQUIRE(w.events.size() == 1);
    CHECK(w.events[0] == "demo/branch1: roamed from 198.51.100.7:51820 to 198.51.100.8:51820");
    PlanInputs in;
    p.site[0]->add_inputs(in);
    REQUIRE(in.roamed.count({"demo", "branch1"}) == 1);
    CHECK(in.roamed.at({"demo", "branch1"}) == backup);
    // hq's own messages go there now.
    XfrmKeying::Work rekey;
    REQUIRE(p.site[0]->rekey("demo", "branch1").ok());
    p.now += 100ms;
    rekey = p.site[0]->tick(p.now);
    REQUIRE_FALSE(rekey.sends.empty());
    for (const auto& s : rekey.sends) CHECK(s.to == backup);
    // The same keepalive again, from elsewhere: a replay, rejected; no roam.
    const size_t rejected = p.site[0]->rejected();
    XfrmKeying::Work replay = p.site[0]->receive("demo", 0, Endpoint{IpAddr::v4(0xcb007105), 51820}, captured, p.now);
    CHECK_FALSE(replay.apply);
    CHECK(replay.events.empty());
    CHECK(p.site[0]->rejected() == rejected + 1);
    PlanInputs after;
    p.site[0]->add_inputs(after);
    CHECK(after.roamed.at({"demo", "branch1"}) == backup);
}

TEST_CASE("initiations stop for the second once they took the CPU budget; the next second has its own") {
    char tmpl[] = "/tmp/avpn-keying-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    const KeyFile hub = make_key(dir, "hub");
    planner::KeyingGroupView v{"demo", hub.path, 51820, {}};
    for (size_t i = 0; i < 200; ++i) {
        const KeyFile k = make_key(dir, "spoke" + std::to_string(i));
        v.peers.push_back({"spoke" + std::to_string(i), k.public_b64,
                           Endpoint{IpAddr::v4(0x0a400000u + uint32_t(i)), 51820},
                           {0x40000000u + uint32_t(i), 0x60000000u + uint32_t(i)}});
    }
    XfrmKeying site;
    REQUIRE(site.configure({v}).empty());
    auto initiations = [&](keying::Time t) {
        size_t n = 0;
        for (const XfrmKeying::Send& s : site.tick(t).sends) n += s.bytes.size() == keying::kInitiationLen;
        return n;
    };
    const keying::Time t0 = keying::Time{} + 1000s;
    // 1 ns a second: one initiation's real cost (an X25519 key pair and
    // two DHs, microseconds) spends it. The first tick knows no cost yet,
    // so the pace's burst goes.
    site.set_initiation_budget(std::chrono::nanoseconds(1));
    CHECK(initiations(t0) == 100);
    CHECK(initiations(t0 + 250ms) == 0);  // the second's budget is spent
    CHECK(initiations(t0 + 750ms) == 0);
    CHECK(initiations(t0 + 1000ms) == 1);  // a new second: one, then spent
    CHECK(initiations(t0 + 1250ms) == 0);
    // The default budget (200 ms a second) leaves the pace in charge: the
    // bucket refilled to its burst of 100 less the one just taken.
    site.set_initiation_budget(std::chrono::milliseconds(200));
    CHECK(initiations(t0 + 2000ms) == 99);
    (void)std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("a peer found dead inside a tick initiates only when the pace grants it, not in that tick") {
    // From each side in turn: the follower's peer is not due for a rotation
    // before it goes dead, so only its own tick finds it dead.
    for (int me : {0, 1}) {
        CAPTURE(me);
        Pair p;
        p.advance(1s);
        REQUIRE(p.site[me]->status(p.now)[0].up);
        p.stopped[1 - me] = true;
        // Tick by hand with initiations held (a backlog), until the peer is dead.
        bool down = false, initiated_while_held = false;
        for (int i = 0; i < 400 && !down; ++i) {
            p.now += 100ms;
            XfrmKeying::Work w = p.site[me]->tick(p.now, true);
            for (const std::string& e : w.events) down |= e.find("down (") != std::string::npos;
            for (const XfrmKeying::Send& s : w.sends) initiated_while_held |= s.bytes.size() == keying::kInitiationLen;
        }
        REQUIRE(down);
        CHECK_FALSE(initiated_while_held);
        // The next tick without a backlog sends its initiation.
        p.now += 100ms;
        bool initiation = false;
        for (const XfrmKeying::Send& s : p.site[me]->tick(p.now).sends)
            initiation |= s.bytes.size() == keying::kInitiationLen;
        CHECK(initiation);
    }
}

// Active-active (docs/uplinks.md): path 1 of a pair is a key exchange of its
// own on port 51821, bound to its path, so a handshake of one path never
// completes on the other and replaces its session.
TEST_CASE("paths: each path handshakes on its own; a path-1 initiation does not complete on path 0") {
    char tmpl[] = "/tmp/avpn-keying-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    KeyFile key[2] = {make_key(dir, "hq"), make_key(dir, "branch1")};
    const char* name[2] = {"hq", "branch1"};
    const IpAddr addr[2] = {IpAddr::v4(0xc0000201), IpAddr::v4(0xc6336407)};
    keying::Time now{};
    std::unique_ptr<XfrmKeying> site[2];
    for (int i = 0; i < 2; ++i) {
        site[i] = std::make_unique<XfrmKeying>(keying::SessionTimers{}, [&now] {
            auto s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
            return keying::tai64n_from_unix(1'800'000'000 + uint64_t(s), 0);
        });
        std::vector<planner::KeyingGroupView> views;
        for (uint8_t path = 0; path < 2; ++path) {
            planner::KeyingGroupView v{"demo", key[i].path, uint16_t(51820 + path), {}, 0x41560001u + 0x100u * path, path};
            // hq (0) answers path 1 only; branch1 starts it at hq's port + 1.
            std::optional<Endpoint> at = Endpoint{addr[1 - i], uint16_t(51820 + path)};
            if (path == 1 && i == 0) at.reset();
            const uint32_t base = 0x40000000u + 0x1000u * path + uint32_t(i + 1);
            v.peers.push_back({name[1 - i], key[1 - i].public_b64, at, {base, base | 0x20000000u}});
            views.push_back(v);
        }
        Errors e = site[i]->configure(views);
        REQUIRE_MESSAGE(e.empty(), (e.empty() ? "" : e[0].str()));
    }
    // branch1's first tick: its initiations, one per path.
    XfrmKeying::Work first = site[1]->tick(now);
    std::optional<XfrmKeying::Send> path1;
    for (const XfrmKeying::Send& s : first.sends)
        if (s.path == 1) path1 = s;
    REQUIRE(path1);
    CHECK(path1->to == (Endpoint{addr[0], 51821}));
    // Delivered to path 0's socket: not a handshake of that path.
    const size_t rejected = site[0]->rejected();
    XfrmKeying::Work wrong = site[0]->receive("demo", 0, Endpoint{addr[1], 51821}, path1->bytes, now);
    CHECK(wrong.sends.empty());
    CHECK(site[0]->rejected() == rejected + 1);

    // Both paths come up, each with its own keys; hq learns path 1's source.
    std::vector<XfrmKeying::Send> wire = first.sends;
    for (int step = 0; step < 20; ++step) {
        now += 100ms;
        for (int i = 0; i < 2; ++i)
            for (auto& s : site[i]->tick(now).sends) wire.push_back(std::move(s));
        auto flight = std::move(wire);
        wire.clear();
        for (auto& s : flight) {
            const int to = s.to.addr == addr[0] ? 0 : 1;
            CHECK(s.to.port == 51820 + s.path);
            auto w = site[to]->receive("demo", s.path, Endpoint{addr[1 - to], uint16_t(51820 + s.path)}, s.bytes, now);
            for (auto& r : w.sends) wire.push_back(std::move(r));
        }
    }
    PlanInputs hq, branch;
    site[0]->add_inputs(hq);
    site[1]->add_inputs(branch);
    const PlanInputs::PathKey hq_key{"demo", "branch1", 1}, branch_key{"demo", "hq", 1};
    REQUIRE(hq.xfrm_path_sessions.count(hq_key));
    REQUIRE(branch.xfrm_path_sessions.count(branch_key));
    REQUIRE(hq.xfrm_path_sessions[hq_key].outbound);
    REQUIRE(branch.xfrm_path_sessions[branch_key].outbound);
    REQUIRE(hq.xfrm_sessions[{"demo", "branch1"}].outbound);
    CHECK(hq.path_roamed[hq_key] == (Endpoint{addr[1], 51821}));
    CHECK(hq.dead_peers.empty());
    // Path 1's SPIs are path 1's own, and its keys are not path 0's.
    const SessionSa p0 = *hq.xfrm_sessions[{"demo", "branch1"}].outbound;
    const SessionSa p1 = *hq.xfrm_path_sessions[hq_key].outbound;
    CHECK((p1.spi & 0xf000u) == 0x1000u);
    CHECK(*site[0]->key(p1.key_id, 160) != *site[0]->key(p0.key_id, 160));
    // Status: a row per path, path 1 up.
    size_t up_on_path1 = 0;
    for (const auto& s : site[1]->status(now)) up_on_path1 += s.path == 1 && s.up;
    CHECK(up_on_path1 == 1);
    (void)std::system(("rm -rf " + dir).c_str());
}
