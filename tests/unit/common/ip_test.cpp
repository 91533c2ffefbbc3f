#include <doctest/doctest.h>

#include "common/ip.hpp"

using namespace avpn;

TEST_CASE("prefix parsing is canonical and strict") {
    auto p = Prefix::parse("10.1.0.0/16");
    REQUIRE(p);
    CHECK(p->str() == "10.1.0.0/16");
    CHECK_FALSE(Prefix::parse("10.1.0.1/16"));  // host bits set
    CHECK_FALSE(Prefix::parse("10.1.0.0/33"));
    CHECK_FALSE(Prefix::parse("10.1.0.0/"));
    CHECK_FALSE(Prefix::parse("10.1.0/8"));
    CHECK(Prefix::parse("2001:db8::/32")->str() == "2001:db8::/32");
    CHECK(Prefix::parse("192.0.2.1")->len == 32);
}

TEST_CASE("containment and overlap, nested and disjoint") {
    auto a = *Prefix::parse("10.0.0.0/22");
    auto b = *Prefix::parse("10.0.2.0/24");
    auto c = *Prefix::parse("10.0.4.0/24");
    CHECK(a.contains(b));
    CHECK_FALSE(b.contains(a));
    CHECK(a.overlaps(b));
    CHECK(b.overlaps(a));
    CHECK_FALSE(a.overlaps(c));
    CHECK_FALSE(a.overlaps(*Prefix::parse("::/0")));  // families never overlap
    CHECK(Prefix::parse("0.0.0.0/0")->contains(c));
}

TEST_CASE("endpoints with and without port, v4 and v6") {
    CHECK(Endpoint::parse("192.0.2.1:9350")->str() == "192.0.2.1:9350");
    CHECK(Endpoint::parse("192.0.2.1", 9350)->port == 9350);
    CHECK_FALSE(Endpoint::parse("192.0.2.1"));
    CHECK_FALSE(Endpoint::parse("192.0.2.1:0"));
    CHECK_FALSE(Endpoint::parse("192.0.2.1:70000"));
    CHECK(Endpoint::parse("[2001:db8::1]:51820")->str() == "[2001:db8::1]:51820");
    CHECK(Endpoint::parse("2001:db8::1", 1)->port == 1);  // bare v6, no brackets
}

TEST_CASE("addresses order and round-trip") {
    auto a = *IpAddr::parse("100.64.0.1");
    CHECK(IpAddr::v4(a.v4_host_order()) == a);
    CHECK(*IpAddr::parse("100.64.0.1") < *IpAddr::parse("100.64.0.2"));
    CHECK(IpAddr::parse("0.0.0.0")->is_unspecified());
}
