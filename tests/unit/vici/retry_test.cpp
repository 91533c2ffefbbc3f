// Re-initiation with back-off (retry.hpp): which down initiators are due, and
// the state-directory file `avpnctl status` reads the next attempt from.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

#include "plugins/vici/retry.hpp"

using namespace avpn::vici;

TEST_CASE("a tunnel without an IKE_SA is initiated at once, then with doubling waits up to the maximum") {
    RetrySchedule s(RetryPolicy{5, 40});
    const std::map<std::string, std::string> down{{"avpn-a", "DOWN"}};
    int64_t t = 1000;
    CHECK(s.due(down, t) == std::vector<std::string>{"avpn-a"});
    CHECK(s.all().at("avpn-a").attempts == 1);
    CHECK(s.next_due() == t + 5);
    CHECK(s.due(down, t + 4).empty());  // not yet
    std::vector<int64_t> waits;
    for (int i = 0; i < 6; ++i) {
        t = s.next_due();
        REQUIRE(s.due(down, t) == std::vector<std::string>{"avpn-a"});
        waits.push_back(s.next_due() - t);
    }
    CHECK(waits == std::vector<int64_t>{10, 20, 40, 40, 40, 40});  // forever, never giving up
    CHECK(s.all().at("avpn-a").attempts == 7);
}

TEST_CASE("established starts over; connecting is charon's own retry; gone names are forgotten") {
    RetrySchedule s(RetryPolicy{5, 300});
    CHECK(s.due({{"avpn-a", "DOWN"}, {"avpn-b", "DOWN"}}, 100).size() == 2);
    CHECK(s.due({{"avpn-a", "DOWN"}, {"avpn-b", "DOWN"}}, 105).size() == 2);
    // a: up now; b: charon is connecting (retransmitting to a silent peer)
    CHECK(s.due({{"avpn-a", "ESTABLISHED"}, {"avpn-b", "CONNECTING"}}, 200).empty());
    CHECK_FALSE(s.all().contains("avpn-a"));
    CHECK(s.all().at("avpn-b").attempts == 2);  // kept: its next failure keeps backing off
    // a fails again: initiated at once, the back-off restarts from `first`
    CHECK(s.due({{"avpn-a", "DOWN"}, {"avpn-b", "CONNECTING"}}, 300) == std::vector<std::string>{"avpn-a"});
    CHECK(s.all().at("avpn-a").next_at == 305);
    // b no longer configured
    CHECK(s.due({{"avpn-a", "DOWN"}}, 301).empty());
    CHECK_FALSE(s.all().contains("avpn-b"));
    CHECK(s.due({}, 400).empty());
    CHECK(s.next_due() == 0);
}

TEST_CASE("the retry file round-trips and skips what it cannot read") {
    char dir[] = "/tmp/avpn-retry-test.XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/ipsec.retry";
    CHECK(load_retries(path).empty());  // missing: empty
    std::map<std::string, RetryState> in{{"avpn-a", {3, 1700000040}}, {"avpn-b", {1, 1700000005}}};
    REQUIRE(save_retries(path, in).ok());
    auto out = load_retries(path);
    REQUIRE(out.size() == 2);
    CHECK(out.at("avpn-a").attempts == 3);
    CHECK(out.at("avpn-a").next_at == 1700000040);
    {
        std::ofstream f(path, std::ios::app);
        f << "foreign\t1\t2\navpn-c\tx\t3\navpn-d\t1\n";
    }
    CHECK(load_retries(path).size() == 2);
    ::unlink(path.c_str());
    ::rmdir(dir);
}
