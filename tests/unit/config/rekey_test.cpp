// rekey_bytes / rekey_packets: the XFRM SAs' soft limits a group may lower.
#include "fixture.hpp"

#include "orchestrator/config/values.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Lines 1-5: the hub's [site]; 6-8: [autovpn] with `transport`; `extra` from line 9.
LoadResult load_group(const std::string& transport, const std::string& extra) {
    return load(kHub + "[autovpn]\ngroup = \"corp\"\ntransport = \"" + transport + "\"\n" + extra +
                member("hq", "hub", 1, "[\"10.1.0.0/16\"]"));
}

}  // namespace

TEST_CASE("an XFRM group takes rekey_bytes as a size or bytes, and rekey_packets") {
    auto r = load_group("xfrm", "rekey_bytes = \"64KiB\"\nrekey_packets = 100000\n");
    expect_ok(r);
    CHECK(r.intent->groups[0].rekey_bytes == 65536u);
    CHECK(r.intent->groups[0].rekey_packets == 100000u);
    auto bytes = load_group("xfrm", "rekey_bytes = 1048576\n");
    expect_ok(bytes);
    CHECK(bytes.intent->groups[0].rekey_bytes == 1048576u);
    CHECK_FALSE(bytes.intent->groups[0].rekey_packets);  // the planner's default
    auto none = load_group("xfrm", "");
    expect_ok(none);
    CHECK_FALSE(none.intent->groups[0].rekey_bytes);
}

TEST_CASE("rekey limits on a WireGuard group are errors naming the key") {
    auto r = load_group("wireguard", "rekey_bytes = \"1GiB\"\nrekey_packets = 1000\n");
    expect_exact(r, "autovpn.rekey_bytes", "9:15",
                 "rekey_bytes only applies with transport = \"xfrm\" (WireGuard rekeys by itself)");
    expect_exact(r, "autovpn.rekey_packets", "10:17",
                 "rekey_packets only applies with transport = \"xfrm\" (WireGuard rekeys by itself)");
    CHECK(r.errors.size() == 2);
}

TEST_CASE("a rekey limit out of range or not a size is an error at its value") {
    expect_exact(load_group("xfrm", "rekey_bytes = \"1KiB\"\n"), "autovpn.rekey_bytes", "9:15",
                 "1KiB is out of range (64KiB..3TiB)");
    expect_exact(load_group("xfrm", "rekey_bytes = \"4TiB\"\n"), "autovpn.rekey_bytes", "9:15",
                 "4TiB is out of range (64KiB..3TiB)");
    expect_exact(load_group("xfrm", "rekey_bytes = -1\n"), "autovpn.rekey_bytes", "9:15",
                 "-1 is out of range (64KiB..3TiB)");
    expect_error(load_group("xfrm", "rekey_bytes = \"64KB\"\n"), "autovpn.rekey_bytes", "9:15",
                 {"\"64KB\" is not a size", "KiB, MiB, GiB or TiB"});
    expect_error(load_group("xfrm", "rekey_bytes = 1.5\n"), "autovpn.rekey_bytes", "9:15", {"expected a size", "found a floating-point number"});
    expect_error(load_group("xfrm", "rekey_packets = 10\n"), "autovpn.rekey_packets", "9:17", {"out of range"});
    // A bad value is not reported twice on a WireGuard group.
    auto wg = load_group("wireguard", "rekey_bytes = \"lots\"\n");
    expect_error(wg, "autovpn.rekey_bytes", "9:15", {"is not a size"});
    CHECK(wg.errors.size() == 1);
}

TEST_CASE("sizes: binary units, exact, bounded") {
    using config::parse_size;
    using config::size_text;
    CHECK(parse_size("0") == 0u);
    CHECK(parse_size("512B") == 512u);
    CHECK(parse_size("64KiB") == 65536u);
    CHECK(parse_size("3TiB") == 3ull << 40);
    CHECK(parse_size("1024TiB") == 1ull << 50);
    CHECK_FALSE(parse_size("1025TiB"));
    CHECK_FALSE(parse_size(""));
    CHECK_FALSE(parse_size("KiB"));
    CHECK_FALSE(parse_size("64 KiB"));
    CHECK_FALSE(parse_size("64kib"));
    CHECK_FALSE(parse_size("-1"));
    CHECK(size_text(65536) == "64KiB");
    CHECK(size_text(3ull << 40) == "3TiB");
    CHECK(size_text(1000) == "1000");
    CHECK(size_text(0) == "0");
}
