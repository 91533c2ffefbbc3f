#include <doctest/doctest.h>

#include "common/prefix_index.hpp"

using namespace avpn;

namespace {
std::vector<Prefix> parse_all(std::initializer_list<const char*> texts) {
    std::vector<Prefix> out;
    for (auto t : texts) out.push_back(*Prefix::parse(t));
    return out;
}
}  // namespace

TEST_CASE("disjoint prefixes do not overlap") {
    auto p = parse_all({"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/23", "192.168.0.0/16"});
    CHECK(find_overlaps(p).empty());
}

TEST_CASE("nested and equal prefixes are reported with their nearest container") {
    auto p = parse_all({"10.0.2.0/24", "10.0.0.0/22", "10.0.4.0/24", "10.0.2.0/24"});
    auto o = find_overlaps(p);
    REQUIRE(o.size() == 2);
    // 10.0.0.0/22 (idx 1) holds the first 10.0.2.0/24 (idx 0) ...
    CHECK(o[0].outer == 1);
    CHECK(o[0].inner == 0);
    // ... and that one equals the second 10.0.2.0/24 (idx 3).
    CHECK(o[1].outer == 0);
    CHECK(o[1].inner == 3);
}

TEST_CASE("a default route overlaps everything of its family only") {
    auto p = parse_all({"0.0.0.0/0", "10.0.0.0/8", "2001:db8::/32"});
    auto o = find_overlaps(p);
    REQUIRE(o.size() == 1);
    CHECK(o[0].outer == 0);
    CHECK(o[0].inner == 1);
}

TEST_CASE("the sweep recovers after a nested run closes") {
    auto p = parse_all({"10.0.0.0/16", "10.0.1.0/24", "10.0.1.128/25", "10.1.0.0/16", "10.1.0.0/17"});
    auto o = find_overlaps(p);
    REQUIRE(o.size() == 3);
    CHECK(o[2].outer == 3);
    CHECK(o[2].inner == 4);
}
