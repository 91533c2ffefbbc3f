// Which kernel notifications make avpnd repair: avpn's own objects and
// uplinks changed by someone else; never its own writes, never an
// operator's objects, never charon's interop SAs.
#include <doctest/doctest.h>

#include "orchestrator/runtime/drift.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"

using namespace avpn;
using namespace avpn::runtime;
using nl::EventKind;
using nl::KernelEvent;

namespace {

WatchScope scope() {
    WatchScope s;
    s.owned.links = {"avpn-demo"};
    s.owned.tables = {7100};
    s.uplinks = {"wan0"};
    s.own_rtnl_ports = {4242};
    s.own_xfrm_ports = {5353};
    return s;
}

KernelEvent route(uint32_t table, uint8_t protocol, uint32_t sender = 99) {
    KernelEvent e;
    e.kind = EventKind::route;
    e.table = table;
    e.protocol = protocol;
    e.sender = sender;
    return e;
}

KernelEvent named(EventKind k, const char* ifname) {
    KernelEvent e;
    e.kind = k;
    e.ifname = ifname;
    e.sender = 99;
    return e;
}

}  // namespace

TEST_CASE("routes: avpn's protocol in avpn's tables, from someone else") {
    CHECK(concerns_avpn(route(7100, own::kRouteProtocol), scope()));
    CHECK(concerns_avpn(route(7100, own::kRouteProtocol, 0), scope()));  // the kernel flushed it
    CHECK_FALSE(concerns_avpn(route(7100, own::kRouteProtocol, 4242), scope()));  // avpnd's own write
    CHECK_FALSE(concerns_avpn(route(254, 3), scope()));                   // operator, main table
    CHECK_FALSE(concerns_avpn(route(7100, 3), scope()));                  // operator's route in avpn's table
    CHECK_FALSE(concerns_avpn(route(7200, own::kRouteProtocol), scope())); // another site's table
}

TEST_CASE("main-table routes through an uplink: its default route is an input of the steering") {
    WatchScope s = scope();
    s.uplink_ifindexes = {3};
    KernelEvent e = route(254, 3);  // the operator's or DHCP's route
    e.ifindex = 3;
    CHECK(concerns_avpn(e, s));
    e.removed = true;
    CHECK(concerns_avpn(e, s));
    CHECK(concerns_uplinks(e, s));
    e.dst_len = 24;  // an operator's route through the uplink, not its default
    CHECK_FALSE(concerns_avpn(e, s));
    CHECK_FALSE(concerns_uplinks(e, s));
    e.dst_len = 0;
    e.ifindex = 4;  // through another interface
    CHECK_FALSE(concerns_avpn(e, s));
    CHECK_FALSE(concerns_uplinks(e, s));
    e.ifindex = 3;
    e.table = 100;  // an operator's own table
    CHECK_FALSE(concerns_avpn(e, s));
    e.table = 254;
    e.sender = 4242;  // avpnd's own write (it writes none in main, but its ports never count)
    CHECK_FALSE(concerns_avpn(e, s));
}

TEST_CASE("links and addresses: avpn's interfaces and the uplinks") {
    CHECK(concerns_avpn(named(EventKind::link, "avpn-demo"), scope()));
    CHECK(concerns_avpn(named(EventKind::address, "wan0"), scope()));
    CHECK_FALSE(concerns_avpn(named(EventKind::link, "lan0"), scope()));
    CHECK_FALSE(concerns_avpn(named(EventKind::address, "docker0"), scope()));
    KernelEvent fe80 = named(EventKind::address, "wan0");
    fe80.link_local = true;  // the kernel settling an IPv6 link-local address (DAD)
    fe80.sender = 0;
    CHECK_FALSE(concerns_avpn(fe80, scope()));
    fe80.ifname = "avpn-demo";
    CHECK_FALSE(concerns_avpn(fe80, scope()));
}

TEST_CASE("rules in avpn's band with its protocol; XFRM of AutoVPN groups only; overruns and flushes always") {
    KernelEvent rule;
    rule.kind = EventKind::rule;
    rule.sender = 7;
    rule.priority = own::kRulePriorityFirst + 10;
    rule.protocol = own::kRouteProtocol;
    CHECK(concerns_avpn(rule, scope()));
    rule.protocol = 0;  // an operator's rule inside the band
    CHECK_FALSE(concerns_avpn(rule, scope()));
    rule.protocol = own::kRouteProtocol;
    rule.priority = 6000;
    CHECK_FALSE(concerns_avpn(rule, scope()));

    KernelEvent sa;
    sa.kind = EventKind::xfrm_sa;
    sa.sender = 7;
    sa.if_id = own::kIfIdFirst;
    CHECK(concerns_avpn(sa, scope()));
    sa.if_id = planner::kInteropIfIdFirst;  // charon rekeying an interop tunnel
    CHECK_FALSE(concerns_avpn(sa, scope()));
    sa.if_id = 0;
    CHECK_FALSE(concerns_avpn(sa, scope()));

    KernelEvent overrun;  // the default event: ENOBUFS
    CHECK(concerns_avpn(overrun, scope()));
    KernelEvent flush;
    flush.kind = EventKind::xfrm_flush;
    flush.sender = 4242;
    CHECK(concerns_avpn(flush, scope()));
}

TEST_CASE("XFRM: avpnd's own writes are attributed by the port id its batches put in the request") {
    KernelEvent policy;
    policy.kind = EventKind::xfrm_policy;
    policy.if_id = own::kIfIdFirst;
    policy.sender = 5353;  // avpnd's XFRM socket
    CHECK_FALSE(concerns_avpn(policy, scope()));
    policy.removed = true;
    CHECK_FALSE(concerns_avpn(policy, scope()));
    KernelEvent sa = policy;
    sa.kind = EventKind::xfrm_sa;
    CHECK_FALSE(concerns_avpn(sa, scope()));

    policy.sender = 0;  // `ip xfrm policy del` (iproute2 leaves nlmsg_pid 0) or the kernel
    CHECK(concerns_avpn(policy, scope()));
    sa.sender = 0;  // a hard expiry
    CHECK(concerns_avpn(sa, scope()));
    policy.sender = 777;  // another daemon that does set nlmsg_pid
    CHECK(concerns_avpn(policy, scope()));
}

TEST_CASE("port ids count only in their own netlink family") {
    // avpnd's XFRM port id on an rtnetlink event is another process's socket.
    CHECK(concerns_avpn(route(7100, own::kRouteProtocol, 5353), scope()));
    KernelEvent policy;
    policy.kind = EventKind::xfrm_policy;
    policy.if_id = own::kIfIdFirst;
    policy.sender = 4242;  // avpnd's rtnetlink port id on an XFRM event
    CHECK(concerns_avpn(policy, scope()));
}
