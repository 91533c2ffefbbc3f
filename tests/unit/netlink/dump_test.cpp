// Dumps: DUMP_INTR retries the whole dump; errors keep the kernel's text.
#include <doctest/doctest.h>

#include <linux/rtnetlink.h>

#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/transact.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

std::vector<uint8_t> route_msg(uint32_t seq, const char* dst, uint8_t protocol, uint32_t table, uint16_t flags = 0) {
    Route r;
    r.table = table;
    r.dst = *Prefix::parse(dst);
    auto m = test::build(0, NLM_F_MULTI | flags, seq, [&](MsgWriter& w) { (void)encode_route(w, RouteOp::add, r, 0, protocol); });
    auto* h = reinterpret_cast<nlmsghdr*>(m.data());
    h->nlmsg_type = RTM_NEWROUTE;
    h->nlmsg_flags = NLM_F_MULTI | flags;
    h->nlmsg_seq = seq;
    return m;
}

}  // namespace

TEST_CASE("a dump flagged inconsistent is redone from scratch") {
    test::FakeTransport t;
    int dumps = 0;
    t.kernel = [&](Bytes d) {
        uint32_t seq = test::messages(d)[0]->nlmsg_seq;
        ++dumps;
        if (dumps == 1)  // the table changed while being dumped
            return test::Datagrams{test::concat({route_msg(seq, "10.0.0.0/24", 147, 7100),
                                                 route_msg(seq, "10.0.1.0/24", 147, 7100, NLM_F_DUMP_INTR)}),
                                   test::done(seq, NLM_F_DUMP_INTR)};
        return test::Datagrams{test::concat({route_msg(seq, "10.0.2.0/24", 147, 7100)}), test::done(seq)};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE(routes);
    CHECK(dumps == 2);
    REQUIRE(routes->size() == 1);  // nothing from the inconsistent attempt survives
    CHECK(routes->at(0).dst.str() == "10.0.2.0/24");
}

TEST_CASE("a dump that never settles fails after its attempts") {
    test::FakeTransport t;
    int dumps = 0;
    t.kernel = [&](Bytes d) {
        ++dumps;
        return test::Datagrams{test::done(test::messages(d)[0]->nlmsg_seq, NLM_F_DUMP_INTR)};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE_FALSE(routes);
    CHECK(dumps == 5);
    CHECK(routes.error().why.find("DUMP_INTR") != std::string::npos);
    CHECK(routes.error().what == "dump routes");
}

TEST_CASE("route dumps keep only the filter's table and protocol") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) {
        const nlmsghdr* req = test::messages(d)[0];
        CHECK((req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
        uint32_t seq = req->nlmsg_seq;
        return test::Datagrams{test::concat({route_msg(seq, "10.0.0.0/24", 147, 7100),
                                             route_msg(seq, "10.0.1.0/24", 4, 7100),      // operator's, same table
                                             route_msg(seq, "10.0.2.0/24", 147, 254)}),  // main
                               test::done(seq)};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE(routes);
    REQUIRE(routes->size() == 1);
    CHECK(routes->at(0).dst.str() == "10.0.0.0/24");
}

TEST_CASE("a dump's error carries the kernel's extack text") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) {
        return test::Datagrams{test::ack(test::messages(d)[0]->nlmsg_seq, EINVAL, "Invalid header for dump")};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE_FALSE(routes);
    CHECK(routes.error().why.find("Invalid header for dump") != std::string::npos);
    CHECK(routes.error().code == EINVAL);
    CHECK(routes.error().where == "table 7100 protocol 147");
}

TEST_CASE("a dump the kernel never answers fails with the receive's code") {
    test::FakeTransport t;  // no kernel: nothing to receive, the wait times out
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE_FALSE(routes);
    CHECK(routes.error().code == ETIMEDOUT);
    CHECK(routes.error().where == "table 7100 protocol 147");
}

TEST_CASE("a missing table dumps as empty") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) { return test::Datagrams{test::done(test::messages(d)[0]->nlmsg_seq, 0, ENOENT)}; };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE(routes);
    CHECK(routes->empty());
}

TEST_CASE("a malformed reply fails the dump instead of being half-read") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) {
        auto m = route_msg(test::messages(d)[0]->nlmsg_seq, "10.0.0.0/24", 147, 7100);
        m.resize(m.size() - 6);
        return test::Datagrams{m};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE_FALSE(routes);
    CHECK(routes.error().why.find("malformed") != std::string::npos);
}

TEST_CASE("replies to an earlier request are skipped by sequence number") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) {
        uint32_t seq = test::messages(d)[0]->nlmsg_seq;
        return test::Datagrams{test::concat({route_msg(seq - 1, "10.9.0.0/24", 147, 7100)}), test::done(seq - 1),
                               test::concat({route_msg(seq, "10.0.0.0/24", 147, 7100)}), test::done(seq)};
    };
    auto routes = dump_routes(t, RouteFilter{7100, 147, {}}, LinkIndex{});
    REQUIRE(routes);
    REQUIRE(routes->size() == 1);
    CHECK(routes->at(0).dst.str() == "10.0.0.0/24");
}

TEST_CASE("a query hands its reply over and ends at the ack") {
    test::FakeTransport t;
    t.kernel = [&](Bytes d) {
        uint32_t seq = test::messages(d)[0]->nlmsg_seq;
        auto reply = test::build(RTM_NEWLINK, 0, seq, [](MsgWriter& w) {
            w.put_fixed<ifinfomsg>()->ifi_index = 42;
            w.put_str(IFLA_IFNAME, "avpn-x");
        });
        return test::Datagrams{reply, test::ack(seq)};
    };
    auto idx = link_index(t, "avpn-x");
    REQUIRE(idx);
    CHECK(*idx == 42u);
}

// sort_dumped takes shortcuts for the orders dumps come in; every input must
// still come out fully sorted with nothing lost.
TEST_CASE("sort_dumped sorts in order, reversed, nearly reversed and shuffled dumps") {
    std::vector<int> sorted(1000);
    for (int i = 0; i < 1000; ++i) sorted[size_t(i)] = i * 2;
    std::vector<int> reversed(sorted.rbegin(), sorted.rend());
    std::vector<int> newest_first = {1, 5, 999};  // added since: XFRM lists them first
    newest_first.insert(newest_first.end(), reversed.begin(), reversed.end());
    std::vector<int> shuffled = sorted;
    for (size_t i = 0; i < shuffled.size(); ++i) std::swap(shuffled[i], shuffled[(i * 7919) % shuffled.size()]);
    std::vector<int> big_first = sorted;
    big_first.insert(big_first.begin(), 5000);

    for (auto input : {sorted, reversed, newest_first, shuffled, big_first}) {
        auto expected = input;
        std::sort(expected.begin(), expected.end());
        sort_dumped(input);
        CHECK(input == expected);
    }
}
