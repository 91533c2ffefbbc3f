// Kernel change notifications against this machine's kernel: routes, rules,
// links and XFRM policies changed by another process (iproute2) arrive with
// their fields and a sender that is not ours; a change made through our own
// socket carries our port id, so a daemon can tell its own writes apart.
#include "tests/netns/netlink_fixture.hpp"

#include <poll.h>

#include <algorithm>

#include "netlink/rtnl_route.hpp"
#include "netlink/watch.hpp"
#include "netlink/xfrm.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

// Waits up to a second for events and returns all that came.
std::vector<KernelEvent> collect(Watch& w) {
    std::vector<KernelEvent> all;
    for (int i = 0; i < 20; ++i) {
        pollfd fds[2] = {{w.rtnl_fd(), POLLIN, 0}, {w.xfrm_fd(), POLLIN, 0}};
        poll(fds, w.xfrm_fd() >= 0 ? 2 : 1, 50);
        auto got = w.drain();
        all.insert(all.end(), got.begin(), got.end());
        if (!all.empty() && got.empty()) break;
    }
    return all;
}

template <class Pred>
const KernelEvent* find(const std::vector<KernelEvent>& v, Pred p) {
    auto it = std::find_if(v.begin(), v.end(), p);
    return it == v.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("another process's changes arrive as typed events") {
    must("ip link add wdum0 type veth peer name wdum0p && ip link set wdum0 up");
    auto w = Watch::open();
    REQUIRE(w.ok());
    (void)w->drain();

    must("ip route add 10.77.0.0/24 dev wdum0 table 7100 proto 147");
    auto ev = collect(*w);
    const KernelEvent* r = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::route && e.table == 7100; });
    REQUIRE(r != nullptr);
    CHECK(r->protocol == 147);
    CHECK_FALSE(r->removed);
    CHECK(r->sender != 0);  // iproute2's socket

    must("ip route del 10.77.0.0/24 table 7100");
    ev = collect(*w);
    r = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::route && e.table == 7100; });
    REQUIRE(r != nullptr);
    CHECK(r->removed);

    must("ip rule add priority 7005 lookup 7100");
    ev = collect(*w);
    const KernelEvent* rule = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::rule; });
    REQUIRE(rule != nullptr);
    CHECK(rule->priority == 7005);
    CHECK(rule->table == 7100);
    must("ip rule del priority 7005");

    must("ip xfrm policy add src 0.0.0.0/0 dst 10.9.0.0/24 dir out if_id 0x41560001 "
         "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 0x41560001 mode tunnel");
    ev = collect(*w);
    const KernelEvent* pol = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::xfrm_policy; });
    REQUIRE(pol != nullptr);
    CHECK(pol->if_id == 0x41560001u);
    must("ip xfrm policy del src 0.0.0.0/0 dst 10.9.0.0/24 dir out if_id 0x41560001");
    ev = collect(*w);
    pol = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::xfrm_policy && e.removed; });
    REQUIRE(pol != nullptr);
    CHECK(pol->if_id == 0x41560001u);

    must("ip link del wdum0");
    ev = collect(*w);
    const KernelEvent* link = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::link && e.removed; });
    REQUIRE(link != nullptr);
    CHECK(link->ifname == "wdum0");
}

TEST_CASE("a change through our own socket carries our port id") {
    must("ip link add wdum1 type veth peer name wdum1p && ip link set wdum1 up");
    auto w = Watch::open();
    REQUIRE(w.ok());
    Socket rtnl = open_socket(NETLINK_ROUTE);
    auto links = dump_links(rtnl);
    REQUIRE(links.ok());
    LinkIndex names(*links);
    auto idx = names.index("wdum1");
    REQUIRE(idx.has_value());
    (void)w->drain();
    Route r{7101, *Prefix::parse("10.78.0.0/24"), "wdum1", {}, {}, 0};
    REQUIRE(apply(rtnl, [&](MsgWriter& m) { return encode_route(m, RouteOp::add, r, *idx, 147); }).ok());
    auto ev = collect(*w);
    const KernelEvent* e = find(ev, [](const KernelEvent& x) { return x.kind == EventKind::route && x.table == 7101; });
    REQUIRE(e != nullptr);
    CHECK(e->sender == rtnl.portid());
    must("ip link del wdum1");
}

// XFRM names the writer by the nlmsg_pid of its request, not by its socket
// (xfrm_user.c: km_event.portid = nlh->nlmsg_pid): iproute2 leaves it 0,
// and avpn's batches set it, so avpnd can tell its own XFRM writes apart.
TEST_CASE("an XFRM policy written through our batch carries our port id; iproute2's carries none") {
    auto w = Watch::open();
    REQUIRE(w.ok());
    if (w->xfrm_fd() < 0) {
        MESSAGE("no XFRM netlink in this kernel: skipped");
        return;
    }
    Socket xfrm = open_socket(NETLINK_XFRM);
    XfrmPolicy p;
    p.src = *Prefix::parse("10.79.0.0/24");
    p.dst = *Prefix::parse("10.80.0.0/24");
    p.dir = XfrmDir::out;
    p.if_id = 0x41560001;
    XfrmTemplate t;
    t.src = *IpAddr::parse("192.0.2.1");
    t.dst = *IpAddr::parse("192.0.2.2");
    t.reqid = 0x41560001;
    p.templates.push_back(t);
    (void)w->drain();

    REQUIRE(apply(xfrm, [&](MsgWriter& m) { return encode_policy(m, XfrmWrite::add, p); }));
    auto ev = collect(*w);
    const KernelEvent* added = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::xfrm_policy && !e.removed; });
    REQUIRE(added != nullptr);
    CHECK(added->if_id == 0x41560001u);
    CHECK(added->sender == xfrm.portid());

    REQUIRE(apply(xfrm, [&](MsgWriter& m) { return encode_policy_delete(m, p); }));
    ev = collect(*w);
    const KernelEvent* removed = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::xfrm_policy && e.removed; });
    REQUIRE(removed != nullptr);
    CHECK(removed->sender == xfrm.portid());

    must("ip xfrm policy add src 10.79.0.0/24 dst 10.80.0.0/24 dir out if_id 0x41560001 "
         "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 0x41560001 mode tunnel");
    ev = collect(*w);
    const KernelEvent* foreign = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::xfrm_policy; });
    REQUIRE(foreign != nullptr);
    CHECK(foreign->sender != xfrm.portid());
    must("ip xfrm policy del src 10.79.0.0/24 dst 10.80.0.0/24 dir out if_id 0x41560001");
}

TEST_CASE("address events say whether the address is IPv6 link-local") {
    must("ip link add wdum2 type veth peer name wdum2p && ip link set wdum2 up");
    auto w = Watch::open();
    REQUIRE(w.ok());
    (void)w->drain();
    must("ip addr add fe80::4156/64 dev wdum2 nodad");
    auto ev = collect(*w);
    const KernelEvent* a = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::address; });
    REQUIRE(a != nullptr);
    CHECK(a->ifname == "wdum2");
    CHECK(a->link_local);
    must("ip addr add 2001:db8::4156/64 dev wdum2 nodad");
    ev = collect(*w);
    a = find(ev, [](const KernelEvent& e) { return e.kind == EventKind::address; });
    REQUIRE(a != nullptr);
    CHECK_FALSE(a->link_local);
    must("ip link del wdum2");
}
