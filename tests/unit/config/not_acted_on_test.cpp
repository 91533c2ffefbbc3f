// Settings the language accepts but this version does not act on yet are
// kept apart (LoadResult::not_acted_on) with their place, so apply can refuse
// them by name while check and plan still show the site.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

TEST_CASE("registries need avpnd; [[firewall]] acts; nothing is marked not acted on") {
    auto r = load(kHub +
                      "[autovpn]\ngroup = \"a\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }, { endpoint = \"192.0.2.2\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n"
                      "[[firewall]]\naction = \"deny\"\nfrom = \"any\"\nto = \"any\"\n",
                  [] {
                      MemFiles f;
                      f.put("/cfg/g.key", std::string(pub(9)) + "\n");
                      return f;
                  }());
    expect_ok(r);
    CHECK(r.not_acted_on.empty());  // active_active acts since issue 15 (active_active_test.cpp)
    REQUIRE(r.needs_daemon.size() == 1);
    CHECK(r.needs_daemon[0].what == "autovpn.registries");
    CHECK(r.needs_daemon[0].where.rfind("/cfg/site.toml:", 0) == 0);
    CHECK(r.needs_daemon[0].why.find("registries need avpnd") != std::string::npos);
}

TEST_CASE("the defaults act: nothing is marked") {
    auto r = load(kHub + "[autovpn]\ngroup = \"a\"\n");
    expect_ok(r);
    CHECK(r.not_acted_on.empty());
}

// An XFRM group needs its ESP-in-UDP socket held between applies, which only
// avpnd does: LoadResult::needs_daemon names it at the place that makes the
// group XFRM, with its port, so the one-shot apply can refuse it by name.
TEST_CASE("an XFRM group is marked as needing avpnd, at its transport, with its port") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntransport = \"xfrm\"\nlisten_port = 4600\n");
    expect_ok(r);
    CHECK(r.not_acted_on.empty());
    REQUIRE(r.needs_daemon.size() == 1);
    const Error& e = r.needs_daemon[0];
    CHECK(e.what == "autovpn.transport");
    CHECK(e.where == "/cfg/site.toml:8:13");
    CHECK(e.why == "group \"corp\" (transport = \"xfrm\") needs avpnd: it holds the group's ESP-in-UDP socket on port 4600");
}

TEST_CASE("an XFRM group by its member list's header is marked at the header") {
    MemFiles f;
    f.put("/cfg/members.toml", "[group]\nname = \"corp\"\ntransport = \"xfrm\"\n[[member]]\nname = \"hq\"\nrole = \"hub\"\n"
                               "public_key = \"" + pub(1) + "\"\n");
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"members.toml\"\n", f);
    expect_ok(r);
    REQUIRE(r.needs_daemon.size() == 1);
    CHECK(r.needs_daemon[0].what == "group.transport");
    CHECK(r.needs_daemon[0].where == "/cfg/members.toml:3:13");
    CHECK(r.needs_daemon[0].why.find("on port 51820") != std::string::npos);
}

TEST_CASE("WireGuard groups need no avpnd") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntransport = \"wireguard\"\n");
    expect_ok(r);
    CHECK(r.needs_daemon.empty());
}

// failover = true (the default) over two uplinks means following them, which
// only avpnd does; a one-shot would pick one and stay there. With one uplink,
// or failover = false, there is nothing to follow.
TEST_CASE("failover over two uplinks needs avpnd, named at failover or at the uplinks") {
    const std::string two = "[site]\nname = \"london\"\nrole = \"hub\"\nuplinks = [\"wan0\", \"lte0\"]\nkey_file = \"london.key\"\n";
    auto by_default = load(two + "[autovpn]\ngroup = \"corp\"\n");
    expect_ok(by_default);
    REQUIRE(by_default.needs_daemon.size() == 1);
    CHECK(by_default.needs_daemon[0].what == "site.uplinks");
    CHECK(by_default.needs_daemon[0].where == "/cfg/site.toml:4:11");
    CHECK(by_default.needs_daemon[0].why ==
          "failover between 2 uplinks needs avpnd: it follows them and moves the tunnels; a one-shot apply cannot; "
          "set failover = false to use only wan0");

    auto explicit_true = load(two + "failover = true\n[autovpn]\ngroup = \"corp\"\n");
    REQUIRE(explicit_true.needs_daemon.size() == 1);
    CHECK(explicit_true.needs_daemon[0].what == "site.failover");
    CHECK(explicit_true.needs_daemon[0].where == "/cfg/site.toml:6:12");

    CHECK(load(two + "failover = false\n[autovpn]\ngroup = \"corp\"\n").needs_daemon.empty());
    CHECK(load(kHub + "[autovpn]\ngroup = \"corp\"\n").needs_daemon.empty());  // one uplink
}

// avpnd steers such a site through one table per uplink (7200 + n): a group
// may not take one of them; with nothing to steer, the numbers are free.
TEST_CASE("a group's table may not be an uplink's steering table") {
    const std::string two = "[site]\nname = \"london\"\nrole = \"hub\"\nuplinks = [\"wan0\", \"lte0\"]\nkey_file = \"london.key\"\n";
    auto r = load(two + "[autovpn]\ngroup = \"corp\"\ntable = 7201\n");  // 6-8
    expect_error(r, "autovpn.table", "8:9", {"table 7201 is avpn's table of uplink \"lte0\"", "7200..7201"});
    expect_ok(load(two + "[autovpn]\ngroup = \"corp\"\ntable = 7202\n"));
    expect_ok(load(two + "failover = false\n[autovpn]\ngroup = \"corp\"\ntable = 7201\n"));
    expect_ok(load(kHub + "[autovpn]\ngroup = \"corp\"\ntable = 7200\n"));  // one uplink
}
