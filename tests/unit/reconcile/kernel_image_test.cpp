// The kernel image and the delta path without a kernel: starting from an
// image equal to a full plan, each incremental plan update is diffed against
// a slice of the image and the resulting ops recorded; the image must then
// hold exactly the new full plan's kernel objects. (The real kernel runs the
// same ops in tests/netns and in bench_apply.)
#include <doctest/doctest.h>

#include "../plan/world.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/reconcile/diff.hpp"
#include "orchestrator/reconcile/kernel_image.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

nl::KernelState kernel_part(const DesiredState& d) { return static_cast<const nl::KernelState&>(d); }

bool same_state(const nl::KernelState& a, const nl::KernelState& b) {
    return a.links == b.links && a.addresses == b.addresses && a.wireguard == b.wireguard &&
           a.xfrm_states == b.xfrm_states && a.xfrm_policies == b.xfrm_policies && a.routes == b.routes &&
           a.rules == b.rules;
}

Prefix moved(int k) { return Prefix{IpAddr::v4((172u << 24) | (20u << 16) | uint32_t(k) << 8), 24}; }

}  // namespace

TEST_CASE("an image records a full diff: it then equals the desired state") {
    World w = hub_and_spokes(20, 2, Transport::xfrm);
    DesiredState before = w.plan_for("hub").state;
    w.site("s3").exports[0] = moved(1);
    std::erase_if(w.sites, [](const SiteSpec& s) { return s.name == "s4"; });
    w.spoke("s99", {"hub"}, {moved(2)}).contact = E("198.51.100.9:4500");
    DesiredState after = w.plan_for("hub").state;
    KernelImage image = KernelImage::of(before);
    CHECK(same_state(image.state(), before));
    auto ops = diff(after, before);
    CHECK(!ops.empty());
    image.record(ops);
    CHECK(same_state(image.state(), after));
    CHECK(diff(after, image.state()).empty());
}

TEST_CASE("delta applies through the image end where full applies end") {
    for (Transport t : {Transport::wireguard, Transport::xfrm}) {
        CAPTURE(to_string(t));
        World w = hub_and_spokes(40, 3, t);
        IncrementalPlanner planner;
        auto first = planner.update(w.intent_for("hub"), w.inputs_for("hub"));
        KernelImage image = KernelImage::of(first.plan.state);
        planner.commit(std::move(first));
        for (int step = 0; step < 12; ++step) {
            CAPTURE(step);
            if (step % 3 == 0) w.site("s" + std::to_string(step)).exports[1] = moved(step);
            if (step % 3 == 1) w.spoke("n" + std::to_string(step), {"hub"}, {moved(step)}).contact = E("198.51.100.7:4500");
            if (step % 3 == 2) std::erase_if(w.sites, [&](const SiteSpec& s) { return s.name == "s" + std::to_string(step); });
            auto u = planner.update(w.intent_for("hub"), w.inputs_for("hub"));
            REQUIRE_FALSE(u.full);
            auto ops = diff(u.want, image.slice(u.want, u.was));
            CHECK(!ops.empty());
            CHECK(ops.size() < 40);  // a few objects, not the group
            image.record(ops);
            planner.commit(std::move(u));
            nl::KernelState full = kernel_part(w.plan_for("hub").state);
            CHECK(same_state(image.state(), full));
        }
    }
}

TEST_CASE("the slice holds only the objects asked for, and a device's settings") {
    World w = hub_and_spokes(10, 2, Transport::wireguard);
    DesiredState plan = w.plan_for("hub").state;
    KernelImage image = KernelImage::of(plan);
    nl::KernelState ask;
    ask.routes = {plan.routes[3]};
    nl::WgDevice dev = plan.wireguard.front();
    dev.peers = {dev.peers[2]};
    ask.wireguard = {dev};
    nl::KernelState s = image.slice(ask, {});
    CHECK(s.routes == ask.routes);
    REQUIRE(s.wireguard.size() == 1);
    CHECK(s.wireguard.front().peers.size() == 1);
    CHECK(s.wireguard.front().listen_port == plan.wireguard.front().listen_port);
    CHECK(s.links.empty());
    CHECK(s.xfrm_policies.empty());
}

TEST_CASE("after a full apply the image knows which session keyed each SA; a dump alone does not") {
    nl::XfrmSa dumped;
    dumped.src = *IpAddr::parse("192.0.2.11");
    dumped.dst = *IpAddr::parse("192.0.2.1");
    dumped.spi = 0x4b0eaf6d;
    nl::KernelState observed;
    observed.xfrm_states = {dumped};
    nl::XfrmSa planned = dumped;
    planned.key.session_key = 7;
    nl::KernelState desired;
    desired.xfrm_states = {planned};

    KernelImage im = KernelImage::of(observed);
    nl::XfrmSa next = planned;
    next.key.session_key = 9;
    nl::KernelState change;
    change.xfrm_states = {next};
    CHECK(diff(change, im.slice(change, desired)).empty());  // blind: the dump has no session

    im.adopt_key_refs(desired);
    auto ops = diff(change, im.slice(change, desired));
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].kind == OpKind::remove);
    CHECK(ops[1].kind == OpKind::create);
}

TEST_CASE("a fresh dump borrows the key references the last image knew, so a full apply sees an SA's move") {
    nl::XfrmSa sa;
    sa.src = *IpAddr::parse("192.0.2.1");
    sa.dst = *IpAddr::parse("203.0.113.2");
    sa.spi = 0x5b0eaf6d;
    nl::KernelState desired;
    desired.xfrm_states = {sa};
    desired.xfrm_states[0].key.session_key = 7;
    nl::KernelState dumped;
    dumped.xfrm_states = {sa};  // no session in a dump
    KernelImage im = KernelImage::of(dumped);
    im.adopt_key_refs(desired);

    nl::KernelState again = dumped;
    im.lend_key_refs(again);
    REQUIRE(again.xfrm_states.size() == 1);
    CHECK(again.xfrm_states[0].key.session_key == 7);
    // The spoke moved: the plan has the same session at another address.
    nl::KernelState moved = desired;
    moved.xfrm_states[0].dst = *IpAddr::parse("198.51.100.2");
    auto ops = diff(moved, again);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    // Without the loan (a dump alone) it is a remove and a create.
    CHECK(diff(moved, dumped).size() == 2);
    // An SA the image does not know keeps the dump's blank reference.
    nl::KernelState other;
    other.xfrm_states = {sa};
    other.xfrm_states[0].spi = 0x6b0eaf6d;
    im.lend_key_refs(other);
    CHECK(other.xfrm_states[0].key.session_key == 0);
}
