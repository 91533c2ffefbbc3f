// Batches: many requests per send, acks mapped back to each op.
#include <doctest/doctest.h>

#include <linux/rtnetlink.h>

#include <algorithm>
#include <map>

#include "netlink/batch.hpp"
#include "netlink/rtnl_route.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

Route route(int i) {
    Route r;
    r.table = 7100;
    r.dst = *Prefix::parse("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24");
    return r;
}

Status add_route(Batch& b, int i) {
    Route r = route(i);
    return b.add(uint64_t(i), [&](MsgWriter& w) { return encode_route(w, RouteOp::add, r, 4, 147); });
}

// Acks every request, one datagram each; the n-th request (counting from 0
// over the whole test) fails when listed in failures.
struct AckingKernel {
    std::map<int, std::pair<int, std::string>> failures;  // index -> errno, extack
    bool reverse = false;
    bool ack_each = true;  // the batch is expected to ask an ack of every op
    int seen = 0;

    test::Datagrams operator()(Bytes d) {
        test::Datagrams out;
        for (const nlmsghdr* h : test::messages(d)) {
            if (ack_each) CHECK((h->nlmsg_flags & NLM_F_ACK));
            auto f = failures.find(seen++);
            // As the kernel: failures always answer, successes only when asked.
            if (f != failures.end()) out.push_back(test::ack(h->nlmsg_seq, f->second.first, f->second.second));
            else if (h->nlmsg_flags & NLM_F_ACK) out.push_back(test::ack(h->nlmsg_seq));
        }
        if (reverse) std::reverse(out.begin(), out.end());
        return out;
    }
};

}  // namespace

TEST_CASE("every op of a batch gets its own status, the failed one the kernel's reason") {
    test::FakeTransport t;
    AckingKernel k;
    k.failures[3] = {EEXIST, "Route exists in table"};
    k.reverse = true;  // the mapping is by sequence number, not by arrival order
    t.kernel = std::ref(k);
    Batch b(t);
    for (int i = 0; i < 6; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();

    CHECK(t.sent.size() == 1);  // one sendmsg for all six
    REQUIRE(res.ops.size() == 6);
    CHECK(res.failed == 1);
    for (int i = 0; i < 6; ++i) {
        CHECK(res.ops[i].op_id == uint64_t(i));
        CHECK(res.ops[i].sent);
        CHECK(res.ops[i].status.ok() == (i != 3));
    }
    const Error& e = res.ops[3].status.error();
    CHECK(e.what == "add route");
    CHECK(e.where.find("10.0.3.0/24 table 7100") != std::string::npos);
    CHECK(e.why.find("File exists") != std::string::npos);
    CHECK(e.why.find("Route exists in table") != std::string::npos);
    CHECK(e.code == EEXIST);
    CHECK(res.first_error() == &e);
}

TEST_CASE("every request names the sending port, so XFRM notifications of it can be attributed") {
    test::FakeTransport t(NETLINK_XFRM);
    t.port_id = 4242;
    AckingKernel k;
    t.kernel = std::ref(k);
    Batch b(t);
    for (int i = 0; i < 3; ++i) REQUIRE(add_route(b, i));  // the family's encoder does not matter here
    REQUIRE(b.commit().ok());
    REQUIRE(t.sent.size() == 1);
    auto sent = test::messages(t.sent[0]);
    REQUIRE(sent.size() == 3);
    for (const nlmsghdr* h : sent) CHECK(h->nlmsg_pid == 4242u);
}

TEST_CASE("acks read in bulk: fewer receives than ops") {
    test::FakeTransport t;
    AckingKernel k;
    t.kernel = std::ref(k);
    Batch b(t);
    for (int i = 0; i < 1000; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ok());
    CHECK(t.receives < 10);
}

TEST_CASE("a chunk holds no more ops than the socket can queue acks for") {
    test::FakeTransport t;
    t.max_acks = 4;
    AckingKernel k;
    t.kernel = std::ref(k);
    Batch b(t);
    for (int i = 0; i < 10; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ok());
    REQUIRE(t.sent.size() == 3);
    CHECK(test::messages(Bytes(t.sent[0].data(), t.sent[0].size())).size() == 4);
    CHECK(test::messages(Bytes(t.sent[2].data(), t.sent[2].size())).size() == 2);
}

TEST_CASE("an op that does not fit the current chunk moves to a fresh one") {
    test::FakeTransport t;
    AckingKernel k;
    t.kernel = std::ref(k);
    BatchOptions o;
    o.chunk_bytes = 200;  // three route messages (52 bytes each) fit, four do not
    Batch b(t, o);
    for (int i = 0; i < 7; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ok());
    CHECK(res.ops.size() == 7);
    CHECK(t.sent.size() == 3);
    for (const auto& d : t.sent) CHECK(d.size() <= 200);
}

TEST_CASE("a message larger than an empty chunk is refused at add") {
    test::FakeTransport t;
    BatchOptions o;
    o.chunk_bytes = 40;
    Batch b(t, o);
    Status st = add_route(b, 1);
    REQUIRE_FALSE(st);
    CHECK(st.error().why.find("does not fit") != std::string::npos);
    CHECK(b.size() == 0);
}

TEST_CASE("stop_after_failure keeps later chunks from being sent") {
    test::FakeTransport t;
    t.max_acks = 2;
    AckingKernel k;
    k.failures[0] = {EINVAL, ""};
    t.kernel = std::ref(k);
    BatchOptions o;
    o.stop_after_failure = true;
    Batch b(t, o);
    for (int i = 0; i < 6; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(t.sent.size() == 1);
    CHECK(res.failed == 5);  // op 0 failed, 2..5 never sent
    CHECK(res.ops[1].status.ok());
    CHECK(res.ops[1].sent);
    CHECK_FALSE(res.ops[4].sent);
    CHECK(res.ops[4].status.error().why.find("not sent") != std::string::npos);
}

TEST_CASE("ops without an ack are reported as unknown, not as success") {
    test::FakeTransport t;
    t.kernel = [](Bytes d) {
        auto msgs = test::messages(d);
        return test::Datagrams{test::ack(msgs[0]->nlmsg_seq)};  // only the first is acked
    };
    Batch b(t);
    for (int i = 0; i < 3; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ops[0].status.ok());
    REQUIRE_FALSE(res.ops[1].status);
    CHECK(res.ops[1].status.error().why.find("no ack") != std::string::npos);
    CHECK(res.ops[1].status.error().code == ETIMEDOUT);  // what ended the wait for its ack
    CHECK(res.failed == 2);
}

TEST_CASE("a truncated ack still maps its errno to the op") {
    test::FakeTransport t;
    t.truncate_at = NLMSG_HDRLEN + sizeof(nlmsgerr) + 4;  // extack cut off
    t.kernel = [](Bytes d) {
        auto msgs = test::messages(d);
        return test::Datagrams{test::ack(msgs[0]->nlmsg_seq, ENODEV, "a long explanation that is cut")};
    };
    Batch b(t);
    REQUIRE(add_route(b, 1));
    BatchResult res = b.commit();
    REQUIRE_FALSE(res.ops[0].status);
    CHECK(res.ops[0].status.error().why.find("No such device") != std::string::npos);
    CHECK(res.ops[0].status.error().code == ENODEV);
}

TEST_CASE("acks of an earlier exchange (stale sequence numbers) are ignored") {
    test::FakeTransport t;
    t.kernel = [](Bytes d) {
        auto msgs = test::messages(d);
        return test::Datagrams{test::ack(7, EEXIST), test::ack(msgs[0]->nlmsg_seq)};
    };
    Batch b(t);
    REQUIRE(add_route(b, 1));
    BatchResult res = b.commit();
    CHECK(res.ok());
}

TEST_CASE("prepared messages are added as they are") {
    test::FakeTransport t;
    AckingKernel k;
    t.kernel = std::ref(k);
    Batch b(t);
    auto m = test::build(RTM_NEWLINK, 0, 0, [](MsgWriter& w) { w.put_str(IFLA_IFNAME, "x"); });
    REQUIRE(b.add_message(9, Bytes(m.data(), m.size())));
    BatchResult res = b.commit();
    CHECK(res.ok());
    auto sent = test::messages(Bytes(t.sent[0].data(), t.sent[0].size()));
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]->nlmsg_type == RTM_NEWLINK);
    CHECK((sent[0]->nlmsg_flags & (NLM_F_REQUEST | NLM_F_ACK)) == (NLM_F_REQUEST | NLM_F_ACK));
}

TEST_CASE("after a receive-queue overflow the acks that made it still count") {
    test::FakeTransport t;
    t.kernel = [](Bytes d) {
        auto msgs = test::messages(d);
        // The third ack was dropped by the overflow.
        return test::Datagrams{test::ack(msgs[0]->nlmsg_seq), test::ack(msgs[1]->nlmsg_seq, EEXIST)};
    };
    t.fail_next_receive = true;
    Batch b(t);
    for (int i = 0; i < 3; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ops[0].status.ok());
    REQUIRE_FALSE(res.ops[1].status);
    CHECK(res.ops[1].status.error().why.find("EEXIST") != std::string::npos);
    CHECK(res.ops[1].status.error().code == EEXIST);
    REQUIRE_FALSE(res.ops[2].status);
    CHECK(res.ops[2].status.error().why.find("ENOBUFS") != std::string::npos);
    CHECK(res.ops[2].status.error().code == ENOBUFS);
    CHECK(res.failed == 2);
}

TEST_CASE("acks for failures only: one ack per chunk, still one status per op") {
    test::FakeTransport t;
    t.max_acks = 4;
    AckingKernel k;
    k.ack_each = false;
    k.failures[5] = {EEXIST, "Route exists"};
    t.kernel = std::ref(k);
    BatchOptions o;
    o.ack_each_op = false;
    Batch b(t, o);
    for (int i = 0; i < 10; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    REQUIRE(t.sent.size() == 3);
    auto first = test::messages(Bytes(t.sent[0].data(), t.sent[0].size()));
    for (size_t i = 0; i < first.size(); ++i) CHECK(bool(first[i]->nlmsg_flags & NLM_F_ACK) == (i + 1 == first.size()));
    CHECK(res.failed == 1);
    for (int i = 0; i < 10; ++i) CHECK(res.ops[i].status.ok() == (i != 5));
    CHECK(res.ops[5].status.error().why.find("Route exists") != std::string::npos);
}

TEST_CASE("acks for failures only: after an overflow, unacked ops are unknown, not ok") {
    test::FakeTransport t;
    t.kernel = [](Bytes d) {
        auto msgs = test::messages(d);
        return test::Datagrams{test::ack(msgs.back()->nlmsg_seq)};  // a failure's ack was dropped
    };
    t.fail_next_receive = true;
    BatchOptions o;
    o.ack_each_op = false;
    Batch b(t, o);
    for (int i = 0; i < 3; ++i) REQUIRE(add_route(b, i));
    BatchResult res = b.commit();
    CHECK(res.ops[2].status.ok());
    REQUIRE_FALSE(res.ops[0].status);
    CHECK(res.ops[0].status.error().why.find("outcome unknown") != std::string::npos);
    CHECK(res.failed == 2);
}
