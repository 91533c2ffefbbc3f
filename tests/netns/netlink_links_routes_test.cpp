// Links, addresses and routes against this machine's kernel. avpn's routes
// live in table 7100 with protocol 147; an operator's route in the same table
// (another protocol) and one in main must survive every filtered dump and delete.
#include "tests/netns/netlink_fixture.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include "netlink/rtnl_route.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

Route route(const char* dst, const char* ifname, std::optional<const char*> gw = std::nullopt) {
    Route r;
    r.table = kTable;
    r.dst = *Prefix::parse(dst);
    r.ifname = ifname;
    if (gw) r.gateway = IpAddr::parse(*gw);
    return r;
}

Status write(Socket& rt, RouteOp op, const Route& r, uint32_t oif) {
    return apply(rt, [&](MsgWriter& w) { return encode_route(w, op, r, oif, kProto); });
}

}  // namespace

TEST_CASE("links: a veth pair is created, found by name and dumped with its address") {
    Socket rt = open_socket(NETLINK_ROUTE);
    uint32_t idx = veth_with_address(rt, "avpn-t0", "avpn-t0p", "192.0.2.1", 24);
    auto links = dump_links(rt);
    REQUIRE(links);
    auto it = std::find_if(links->begin(), links->end(), [](const LinkState& l) { return l.name == "avpn-t0"; });
    REQUIRE(it != links->end());
    CHECK(it->index == idx);
    CHECK(it->kind == "veth");
    CHECK(it->up());
    CHECK(it->mtu == 1500);
    REQUIRE(it->addresses.size() >= 1);
    CHECK(std::count(it->addresses.begin(), it->addresses.end(),
                     InterfaceAddress{"avpn-t0", *IpAddr::parse("192.0.2.1"), 24}) == 1);

    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_set_mtu(w, "avpn-t0", 1400); }));
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_set_up(w, "avpn-t0", false); }));
    links = dump_links(rt);
    REQUIRE(links);
    it = std::find_if(links->begin(), links->end(), [](const LinkState& l) { return l.name == "avpn-t0"; });
    REQUIRE(it != links->end());
    CHECK_FALSE(it->up());
    CHECK(it->mtu == 1400);

    InterfaceAddress a{"avpn-t0", *IpAddr::parse("192.0.2.1"), 24};
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_address(w, AddrOp::remove, a, idx); }));
    auto addrs = dump_addresses(rt, LinkIndex(*links), idx);
    REQUIRE(addrs);
    CHECK(std::count(addrs->begin(), addrs->end(), a) == 0);

    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_delete(w, "avpn-t0"); }));
    auto gone = link_index(rt, "avpn-t0");
    REQUIRE_FALSE(gone);
    CHECK(gone.error().why.find("ENODEV") != std::string::npos);
}

// What the kernel answers when it has no driver for a link kind (WireGuard
// without its module): the port falls back to wireguard-go on this code.
TEST_CASE("links: a kind the kernel has no driver for fails with EOPNOTSUPP") {
    Socket rt = open_socket(NETLINK_ROUTE);
    Status st = apply(rt, [](MsgWriter& w) {
        w.set_type(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        if (auto* ifi = w.put_fixed<ifinfomsg>()) ifi->ifi_family = AF_UNSPEC;
        w.put_str(IFLA_IFNAME, "avpn-t9");
        if (auto info = w.begin_nest(IFLA_LINKINFO)) {
            w.put_str(IFLA_INFO_KIND, "avpn-no-such-kind");
            w.end_nest(*info);
        }
        return Status{};
    });
    REQUIRE_FALSE(st);
    CHECK(st.error().code == EOPNOTSUPP);
    CHECK(st.error().why.find("Unknown device type") != std::string::npos);  // the extack, for people
    CHECK(link_kind_unsupported(st.error()));
}

TEST_CASE("routes: add, dump, replace and delete only avpn's, in a table above 255") {
    Socket rt = open_socket(NETLINK_ROUTE);
    uint32_t oif = veth_with_address(rt, "avpn-r0", "avpn-r0p", "192.0.2.1", 24);
    LinkIndex names;
    names.add(oif, "avpn-r0");

    // Before anything exists the table is simply empty.
    auto empty = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(empty);
    CHECK(empty->empty());

    // The operator's: same table other protocol, and main with avpn's protocol number.
    must("ip route add 10.99.0.0/24 dev avpn-r0 table 7100 proto static");
    must("ip route add 10.98.0.0/24 dev avpn-r0 proto 147");

    std::vector<Route> ours = {route("10.1.0.0/24", "avpn-r0"), route("10.2.0.0/16", "avpn-r0", "192.0.2.254"),
                               route("0.0.0.0/0", "avpn-r0", "192.0.2.253")};
    for (const auto& r : ours) REQUIRE(write(rt, RouteOp::add, r, oif));
    std::sort(ours.begin(), ours.end());

    auto dumped = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(dumped);
    CHECK(*dumped == ours);

    // Adding the same route again is the kernel's EEXIST, with its words.
    Status again = write(rt, RouteOp::add, ours[0], oif);
    REQUIRE_FALSE(again);
    CHECK(again.error().why.find("EEXIST") != std::string::npos);
    CHECK(again.error().what == "add route");

    // Replace changes a route in place.
    Route changed = ours[1];
    changed.gateway = IpAddr::parse("192.0.2.200");
    changed.prefsrc = IpAddr::parse("192.0.2.1");
    REQUIRE(write(rt, RouteOp::replace, changed, oif));
    dumped = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(dumped);
    CHECK(std::count(dumped->begin(), dumped->end(), changed) == 1);
    CHECK(dumped->size() == 3);

    for (const auto& r : *dumped) REQUIRE(write(rt, RouteOp::remove, r, oif));
    dumped = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(dumped);
    CHECK(dumped->empty());

    // A delete filtered by protocol does not reach the operator's route with the same prefix.
    Route operators = route("10.99.0.0/24", "avpn-r0");
    CHECK_FALSE(write(rt, RouteOp::remove, operators, oif));
    CHECK(sh("ip route show table 7100").find("10.99.0.0/24") != std::string::npos);
    CHECK(sh("ip route show table main").find("10.98.0.0/24") != std::string::npos);
}

TEST_CASE("routes: IPv6 on-link routes round-trip through the kernel") {
    Socket rt = open_socket(NETLINK_ROUTE);
    uint32_t oif = veth_with_address(rt, "avpn-r6", "avpn-r6p", "192.0.2.1", 24);
    LinkIndex names;
    names.add(oif, "avpn-r6");
    Route r = route("fd00:4156::/48", "avpn-r6");
    REQUIRE(write(rt, RouteOp::add, r, oif));
    auto dumped = dump_routes(rt, RouteFilter{kTable, kProto, Family::v6}, names);
    REQUIRE(dumped);
    REQUIRE(dumped->size() == 1);
    CHECK(dumped->at(0) == r);
}
