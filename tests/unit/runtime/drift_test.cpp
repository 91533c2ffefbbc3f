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
    s.own_ports = {4242};
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

TEST_CASE("links and addresses: avpn's interfaces and the uplinks") {
    CHECK(concerns_avpn(named(EventKind::link, "avpn-demo"), scope()));
    CHECK(concerns_avpn(named(EventKind::address, "wan0"), scope()));
    CHECK_FALSE(concerns_avpn(named(EventKind::link, "lan0"), scope()));
    CHECK_FALSE(concerns_avpn(named(EventKind::address, "docker0"), scope()));
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
