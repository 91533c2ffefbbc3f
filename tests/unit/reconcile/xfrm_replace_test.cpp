// What the diff asks of an SA whose outer address changes, and the sequence
// state a replacement starts from.
#include <doctest/doctest.h>

#include "netlink/xfrm.hpp"
#include "orchestrator/reconcile/diff.hpp"
#include "orchestrator/reconcile/xfrm_replace.hpp"

using namespace avpn;

namespace {

nl::XfrmSa sa() {
    nl::XfrmSa s;
    s.src = *IpAddr::parse("192.0.2.1");
    s.dst = *IpAddr::parse("198.51.100.7");
    s.spi = 0x41560001;
    s.reqid = 0x41560003;
    s.soft_packets = 3ull << 30;
    return s;
}

}  // namespace

TEST_CASE("a dumped SA equal to the plan but for its running state is no change") {
    nl::KernelState want, have;
    want.xfrm_states = {sa()};
    nl::XfrmSa dumped = sa();
    dumped.observed_replay.known = true;
    dumped.observed_replay.oseq = 77;
    dumped.observed_key = nl::ObservedKey(std::vector<uint8_t>(20, 1));
    have.xfrm_states = {dumped};
    CHECK(diff(want, have).empty());
}

TEST_CASE("a new source address is an update the port must replace; the inverse replaces back") {
    nl::KernelState want, have;
    nl::XfrmSa moved = sa();
    moved.src = *IpAddr::parse("203.0.113.5");
    want.xfrm_states = {moved};
    have.xfrm_states = {sa()};
    std::vector<Op> ops = diff(want, have);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    const auto& prev = std::get<nl::XfrmSa>(*ops[0].previous);
    CHECK(prev.src == sa().src);
    CHECK_FALSE(nl::sa_updatable(moved, prev));
    Op back = ops[0].inverse();
    CHECK(std::get<nl::XfrmSa>(back.object).src == sa().src);
    CHECK_FALSE(nl::sa_updatable(std::get<nl::XfrmSa>(back.object), std::get<nl::XfrmSa>(*back.previous)));

    nl::XfrmSa no_esn = sa();  // an SA written before avpn planned ESN
    no_esn.esn = false;
    have.xfrm_states = {no_esn};
    want.xfrm_states = {sa()};
    ops = diff(want, have);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    CHECK_FALSE(nl::sa_updatable(sa(), no_esn));
}

TEST_CASE("a successor starts its outbound sequence past the margin; an SA that sent nothing keeps its state") {
    nl::ObservedReplay r;
    r.known = true;
    r.seq = 40;
    nl::ObservedReplay c = continued(r);
    CHECK(c.oseq == 0);
    CHECK(c.oseq_hi == 0);
    CHECK(c.seq == 40);

    r.oseq = 0xffffff00u;
    r.oseq_hi = 3;
    c = continued(r);
    uint64_t expect = (uint64_t(3) << 32 | 0xffffff00u) + kSequenceMargin;
    CHECK(c.oseq == uint32_t(expect));
    CHECK(c.oseq_hi == uint32_t(expect >> 32));
    CHECK(c.seq == 40);

    r.oseq = r.oseq_hi = UINT32_MAX;
    c = continued(r);
    CHECK(c.oseq == UINT32_MAX);
    CHECK(c.oseq_hi == UINT32_MAX);
}
