// ESN, lifetimes and the sequence state a replaced SA carries: encoded,
// then read back as the kernel would report them; which changes UPDSA makes;
// expiry notifications.
#include <doctest/doctest.h>

#include <linux/xfrm.h>
#include <netinet/in.h>

#include "netlink/xfrm.hpp"
#include "netlink/watch.hpp"
#include "netlink/xfrm_expire.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

struct Msg {
    alignas(nlmsghdr) uint8_t bytes[8192];
    MsgWriter w{bytes, sizeof bytes, 0, 0};
    const nlmsghdr* h() const { return w.header(); }
};

XfrmSa esn_sa() {
    XfrmSa sa;
    sa.src = ip("192.0.2.1");
    sa.dst = ip("198.51.100.7");
    sa.spi = 0x41560001;
    sa.reqid = 0x41560003;
    sa.if_id = 0x41560001;
    sa.encap_sport = 51820;
    sa.encap_dport = 51821;
    sa.replay_window = 128;
    sa.soft_bytes = 3ull << 40;
    sa.hard_bytes = 4ull << 40;
    sa.soft_packets = 3ull << 30;
    sa.hard_packets = 1ull << 32;
    sa.soft_seconds = 100;
    sa.hard_seconds = 200;
    return sa;
}

const std::vector<uint8_t> kKey(20, 0x5a);
Bytes key() { return Bytes(kKey.data(), kKey.size()); }

struct Sent {
    xfrm_usersa_info info;
    AttrTable<XFRMA_MAX + 1> t{};
};

Sent sent(const Msg& m) {
    Sent s;
    std::memcpy(&s.info, NLMSG_DATA(m.h()), sizeof s.info);
    REQUIRE(parse_attrs(attrs_after(m.h(), sizeof(xfrm_usersa_info)), s.t));
    return s;
}

}  // namespace

TEST_CASE("an ESN SA carries the flag, its window in XFRMA_REPLAY_ESN_VAL and every lifetime, and reads back equal") {
    for (uint32_t window : {128u, 32u, 1u, 4096u}) {
        XfrmSa sa = esn_sa();
        sa.replay_window = window;
        Msg m;
        REQUIRE(encode_sa(m.w, XfrmWrite::add, sa, key()));
        Sent s = sent(m);
        CHECK((s.info.flags & XFRM_STATE_ESN) != 0);
        CHECK(s.info.replay_window == 0);  // the kernel refuses both at once
        CHECK(s.info.lft.soft_packet_limit == 3ull << 30);
        CHECK(s.info.lft.hard_packet_limit == 1ull << 32);
        CHECK(s.info.lft.soft_byte_limit == 3ull << 40);
        CHECK(s.info.lft.hard_add_expires_seconds == 200);
        xfrm_replay_state_esn esn;
        REQUIRE(s.t[XFRMA_REPLAY_ESN_VAL].read_prefix(esn));
        CHECK(esn.replay_window == window);
        CHECK(esn.bmp_len == (window + 31) / 32);
        CHECK(s.t[XFRMA_REPLAY_ESN_VAL].data.size() == sizeof esn + esn.bmp_len * 4);
        CHECK(esn.oseq == 0);
        CHECK_FALSE(s.t[XFRMA_LTIME_VAL].present);  // nothing carried: a new SA starts at 0
        auto back = parse_sa(m.h());
        REQUIRE(back);
        CHECK(*back == sa);
        CHECK(back->esn);
        CHECK(back->replay_window == window);
        CHECK(back->hard_packets == 1ull << 32);
        CHECK(back->observed_replay.known);
        CHECK(back->observed_replay.esn_layout);
    }
}

TEST_CASE("ESN without a window is refused before the kernel sees it; without ESN a 32-packet window is legacy") {
    XfrmSa sa = esn_sa();
    sa.replay_window = 0;
    Msg m;
    Status st = encode_sa(m.w, XfrmWrite::add, sa, key());
    REQUIRE_FALSE(st);
    CHECK(st.error().why == "ESN needs a replay window");

    sa.esn = false;
    sa.replay_window = 32;
    Msg m2;
    REQUIRE(encode_sa(m2.w, XfrmWrite::add, sa, key()));
    Sent s = sent(m2);
    CHECK((s.info.flags & XFRM_STATE_ESN) == 0);
    CHECK(s.info.replay_window == 32);
    CHECK_FALSE(s.t[XFRMA_REPLAY_ESN_VAL].present);
    auto back = parse_sa(m2.h());
    REQUIRE(back);
    CHECK_FALSE(back->esn);
    CHECK(*back == sa);

    XfrmSa legacy_dump = sa;  // an old avpn's SA: no ESN differs from the plan
    CHECK_FALSE(legacy_dump == esn_sa());
}

TEST_CASE("a replacing SA carries seq, oseq, their high halves, the bitmap and the current lifetime") {
    ObservedReplay r;
    r.known = r.esn_layout = true;
    r.window = 128;
    r.seq = 0x1000;
    r.seq_hi = 2;
    r.oseq = 0xfffffff0;
    r.oseq_hi = 1;
    r.bitmap = {0x1, 0x80000000u, 0x3, 0xffffffffu};
    r.bytes = 123456;
    r.packets = 789;
    r.add_time = 1764950000;
    r.use_time = 1764950100;
    XfrmSa sa = esn_sa();
    Msg m;
    REQUIRE(encode_sa(m.w, XfrmWrite::add, sa, key(), &r));
    Sent s = sent(m);
    REQUIRE(s.t[XFRMA_LTIME_VAL].present);
    auto cur = s.t[XFRMA_LTIME_VAL].fixed<xfrm_lifetime_cur>();
    REQUIRE(cur);
    CHECK(cur->bytes == 123456);
    CHECK(cur->packets == 789);
    CHECK(cur->add_time == 1764950000);
    CHECK(cur->use_time == 1764950100);

    auto back = parse_sa(m.h());
    REQUIRE(back);
    const ObservedReplay& b = back->observed_replay;
    CHECK(b.seq == 0x1000);
    CHECK(b.seq_hi == 2);
    CHECK(b.oseq == 0xfffffff0);
    CHECK(b.oseq_hi == 1);
    CHECK(b.window == 128);
    CHECK(b.bitmap == r.bitmap);  // same layout and window: copied

    SUBCASE("another window: every position counts as seen") {
        sa.replay_window = 64;
        Msg m2;
        REQUIRE(encode_sa(m2.w, XfrmWrite::add, sa, key(), &r));
        auto b2 = parse_sa(m2.h());
        REQUIRE(b2);
        CHECK(b2->observed_replay.bitmap == std::vector<uint32_t>{0xffffffffu, 0xffffffffu});
        CHECK(b2->observed_replay.oseq_hi == 1);
    }
    SUBCASE("nothing received: nothing seen") {
        r.seq = r.seq_hi = 0;
        sa.replay_window = 40;
        Msg m2;
        REQUIRE(encode_sa(m2.w, XfrmWrite::add, sa, key(), &r));
        auto b2 = parse_sa(m2.h());
        REQUIRE(b2);
        CHECK(b2->observed_replay.bitmap == std::vector<uint32_t>{0, 0});
    }
    SUBCASE("an update carries nothing: XFRM_MSG_UPDSA ignores it") {
        Msg m2;
        REQUIRE(encode_sa(m2.w, XfrmWrite::update, sa, key(), &r));
        Sent s2 = sent(m2);
        CHECK_FALSE(s2.t[XFRMA_LTIME_VAL].present);
        xfrm_replay_state_esn esn;
        REQUIRE(s2.t[XFRMA_REPLAY_ESN_VAL].read_prefix(esn));
        CHECK(esn.oseq == 0);
    }
    SUBCASE("into a legacy SA: XFRMA_REPLAY_VAL, a sequence past 32 bits pinned at the top") {
        sa.esn = false;
        sa.replay_window = 32;
        Msg m2;
        REQUIRE(encode_sa(m2.w, XfrmWrite::add, sa, key(), &r));
        Sent s2 = sent(m2);
        auto legacy = s2.t[XFRMA_REPLAY_VAL].fixed<xfrm_replay_state>();
        REQUIRE(legacy);
        CHECK(legacy->oseq == UINT32_MAX);
        CHECK(legacy->seq == UINT32_MAX);
        CHECK(legacy->bitmap == 0xffffffffu);
        auto b2 = parse_sa(m2.h());
        REQUIRE(b2);
        CHECK_FALSE(b2->observed_replay.esn_layout);
        CHECK(b2->observed_replay.oseq == UINT32_MAX);
    }
}

TEST_CASE("UPDSA makes lifetime, encapsulation port and if_id changes; anything else needs a replace") {
    const XfrmSa have = esn_sa();
    XfrmSa want = have;
    want.key.label = "a->b";  // where the key comes from is not the kernel's
    CHECK(sa_updatable(want, have));
    want.hard_packets = 5;
    want.soft_seconds = 0;
    want.encap_dport = 4500;
    want.if_id = 0x41560002;
    CHECK(sa_updatable(want, have));

    auto needs_replace = [&](auto change) {
        XfrmSa w = have;
        change(w);
        return !sa_updatable(w, have);
    };
    CHECK(needs_replace([](XfrmSa& w) { w.src = IpAddr::parse("203.0.113.9").value(); }));
    CHECK(needs_replace([](XfrmSa& w) { w.replay_window = 256; }));
    CHECK(needs_replace([](XfrmSa& w) { w.esn = false; }));
    CHECK(needs_replace([](XfrmSa& w) { w.aead = "rfc7539esp(chacha20,poly1305)"; }));
    CHECK(needs_replace([](XfrmSa& w) { w.key_bits = 288; }));
    CHECK(needs_replace([](XfrmSa& w) { w.reqid += 1; }));
    CHECK(needs_replace([](XfrmSa& w) { w.mark = {1, 1}; }));
    CHECK(needs_replace([](XfrmSa& w) { w.encap_sport = w.encap_dport = 0; }));  // EINVAL from the kernel
    CHECK(needs_replace([](XfrmSa& w) { w.if_id = 0; }));                       // UPDSA skips if_id 0
}

TEST_CASE("expiry notifications round-trip, soft and hard") {
    for (bool hard : {false, true}) {
        XfrmExpire e;
        e.dst = ip("198.51.100.7");
        e.src = ip("192.0.2.1");
        e.spi = 0x41560001;
        e.proto = IPPROTO_ESP;
        e.hard = hard;
        e.reqid = 0x41560003;
        e.mark = {0x10, 0xff};
        e.if_id = 0x41560001;
        e.bytes = 4096;
        e.packets = 3;
        Msg m;
        REQUIRE(encode_expire(m.w, e));
        CHECK(m.h()->nlmsg_type == XFRM_MSG_EXPIRE);
        auto back = parse_expire(m.h());
        REQUIRE(back);
        CHECK(*back == e);
    }
    XfrmExpire v6;
    v6.dst = ip("2001:db8::2");
    v6.src = ip("2001:db8::1");
    v6.spi = 7;
    v6.proto = IPPROTO_ESP;
    Msg m6;
    REQUIRE(encode_expire(m6.w, v6));
    auto back6 = parse_expire(m6.h());
    REQUIRE(back6);
    CHECK(*back6 == v6);
}

TEST_CASE("an expiry parser refuses other messages and short ones") {
    XfrmSa sa = esn_sa();
    Msg m;
    REQUIRE(encode_sa(m.w, XfrmWrite::add, sa, key()));
    CHECK_FALSE(parse_expire(m.h()));  // a NEWSA

    alignas(nlmsghdr) uint8_t buf[NLMSG_LENGTH(sizeof(xfrm_user_expire))] = {};
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    h->nlmsg_type = XFRM_MSG_EXPIRE;
    h->nlmsg_len = NLMSG_LENGTH(sizeof(xfrm_user_expire) - 8);  // cut inside the struct
    CHECK_FALSE(parse_expire(h));
    h->nlmsg_len = NLMSG_LENGTH(sizeof(xfrm_user_expire));
    reinterpret_cast<xfrm_user_expire*>(NLMSG_DATA(h))->state.family = 99;
    CHECK_FALSE(parse_expire(h));
}

// avpnd's drift watch: a hard expiry deleted an SA (drift, unless avpnd's
// key exchange replaces it), a soft one changed nothing and is not an event.
TEST_CASE("the kernel-change watch takes a hard expiry as an SA removed and ignores a soft one") {
    for (bool hard : {false, true}) {
        XfrmExpire e;
        e.dst = ip("198.51.100.7");
        e.src = ip("192.0.2.1");
        e.spi = 0x41560001;
        e.proto = IPPROTO_ESP;
        e.hard = hard;
        e.reqid = 0x41560003;
        e.if_id = 0x41560001;
        Msg m;
        REQUIRE(encode_expire(m.w, e));
        auto ev = parse_event(NETLINK_XFRM, m.h());
        CHECK(ev.has_value() == hard);
        if (!ev) continue;
        CHECK(ev->kind == EventKind::xfrm_sa);
        CHECK(ev->removed);
        CHECK(ev->if_id == 0x41560001);
        CHECK(ev->sender == 0);
    }
}
