// Batches against the real kernel: 10,000 routes in one commit, each with
// its own status; a failing op gets the kernel's own reason while the
// others still apply; chunks stay within what the socket can queue.
#include "tests/netns/netlink_fixture.hpp"

#include "netlink/rtnl_route.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

Route nth_route(int i) {
    Route r;
    r.table = kTable;
    r.dst = *Prefix::parse("10." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + ".0/24");
    r.ifname = "avpn-b0";
    if (i >= 65536) r.dst = *Prefix::parse("fd00:" + std::to_string(i) + "::/64");
    return r;
}

}  // namespace

TEST_CASE("10,000 routes in one commit, one deliberately failing with the kernel's reason") {
    BatchOptions options;
    SUBCASE("an ack for every op") { options.ack_each_op = true; }
    SUBCASE("acks for failures and each chunk's last op") { options.ack_each_op = false; }
    Socket rt = open_socket(NETLINK_ROUTE);
    uint32_t oif = veth_with_address(rt, "avpn-b0", "avpn-b0p", "192.0.2.1", 24);
    constexpr int kRoutes = 10000;
    constexpr int kBad = 5000;
    Batch b(rt, options);
    for (int i = 0; i < kRoutes; ++i) {
        Route r = nth_route(i);
        if (i == kBad) r.gateway = IpAddr::parse("203.0.113.1");  // not reachable from avpn-b0
        REQUIRE(b.add(uint64_t(i), [&](MsgWriter& w) { return encode_route(w, RouteOp::add, r, oif, kProto); }));
    }
    BatchResult res = b.commit();
    REQUIRE(res.ops.size() == size_t(kRoutes));
    CHECK(res.failed == 1);
    for (int i = 0; i < kRoutes; ++i) {
        CHECK(res.ops[i].op_id == uint64_t(i));
        CHECK(res.ops[i].sent);
        if (i != kBad) CHECK(res.ops[i].status.ok());
    }
    REQUIRE_FALSE(res.ops[kBad].status);
    const Error& e = res.ops[kBad].status.error();
    MESSAGE("the failed op: " << e.str());
    CHECK(e.what == "add route");
    CHECK(e.where.find(nth_route(kBad).dst.str()) != std::string::npos);
    CHECK(e.where.find("via 203.0.113.1") != std::string::npos);
    CHECK(e.why.find("; kernel: ") != std::string::npos);  // the kernel's extack text

    LinkIndex names;
    names.add(oif, "avpn-b0");
    auto dumped = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(dumped);
    CHECK(dumped->size() == size_t(kRoutes - 1));

    // And all of them away again in one commit.
    Batch del(rt, options);
    for (size_t i = 0; i < dumped->size(); ++i)
        REQUIRE(del.add(i, [&](MsgWriter& w) { return encode_route(w, RouteOp::remove, (*dumped)[i], oif, kProto); }));
    BatchResult gone = del.commit();
    CHECK(gone.ok());
    dumped = dump_routes(rt, RouteFilter{kTable, kProto, {}}, names);
    REQUIRE(dumped);
    CHECK(dumped->empty());
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_delete(w, "avpn-b0"); }));
}

TEST_CASE("a small receive buffer makes more, smaller chunks and loses no ack") {
    SocketOptions small;
    small.rcvbuf = 128 * 1024;
    auto s = Socket::open(NETLINK_ROUTE, small);
    REQUIRE(s);
    Socket rt = std::move(*s);
    // Without CAP_NET_ADMIN the kernel would cap it anyway; with it, the value is doubled.
    CHECK(rt.max_acks_per_send() <= 256);
    uint32_t oif = veth_with_address(rt, "avpn-b1", "avpn-b1p", "192.0.2.1", 24);
    Batch b(rt);
    for (int i = 0; i < 3000; ++i) {
        Route r = nth_route(i);
        r.ifname = "avpn-b1";
        REQUIRE(b.add(uint64_t(i), [&](MsgWriter& w) { return encode_route(w, RouteOp::add, r, oif, kProto); }));
    }
    BatchResult res = b.commit();
    CHECK(res.ok());
    if (const Error* e = res.first_error()) MESSAGE(e->str());
}
