// active_active and the member list's `paths` (docs/uplinks.md "Active-
// active"): a site spreading flows over its uplinks runs a tunnel per uplink
// to every peer, and the peers learn that from its entry, so the two files
// must agree; what is not built yet (an XFRM full tunnel) is refused by name.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

const std::string kTokyo =
    "[site]\nname = \"tokyo\"\nrole = \"spoke\"\nuplinks = [\"wan0\", \"wan1\"]\nactive_active = true\n"
    "key_file = \"london.key\"\n"
    "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.50.20.0/24\"\nshareable = true\n";

// The group with hub hq (static contact) and tokyo's own entry.
std::string group(const std::string& settings, const std::string& self_paths, const std::string& hubs = "[\"hq\"]") {
    std::string s = "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = " + hubs + "\n" + settings;
    s += member("hq", "hub", 1, "[\"10.1.0.0/16\"]") + "contact = \"203.0.113.1:51820\"\n";
    s += "[[autovpn.member]]\nname = \"tokyo\"\nrole = \"spoke\"\npublic_key = \"" + std::string(kSitePub) +
         "\"\nexports = [\"10.50.20.0/24\"]\nhubs = [\"hq\"]\n" + self_paths;
    return s;
}

}  // namespace

TEST_CASE("active_active with paths = its uplinks loads, and acts (nothing marked)") {
    auto r = load(kTokyo + group("", "paths = 2\n"));
    expect_ok(r);
    CHECK(r.not_acted_on.empty());
    const Intent& in = *r.intent;
    CHECK(in.site.active_active);
    CHECK(in.groups[0].self_paths == 2);
    CHECK(most_paths(in.groups[0]) == 2);
    CHECK(in.groups[0].members[0].paths == 1);
}

TEST_CASE("active_active: the entry must say paths = the number of uplinks") {
    auto r = load(kTokyo + group("", ""));
    const Error* e = find_one(r.errors, "autovpn.member[1].paths", all_diagnostics(r));
    REQUIRE(e);
    CHECK(e->why.find("\"tokyo\" needs paths = 2") != std::string::npos);
    CHECK(e->why.find("the entry says 1") != std::string::npos);
    CHECK_FALSE(r.ok());
}

TEST_CASE("active_active: no entry of its own in the member list is an error at the setting") {
    std::string s = kTokyo + "[autovpn]\ngroup = \"corp\"\nhubs = [\"hq\"]\n" + member("hq", "hub", 1, "[\"10.1.0.0/16\"]");
    auto r = load(s);
    expect_error(r, "site.active_active", "5:17", {"no entry for \"tokyo\"", "paths = 2"});
}

TEST_CASE("active_active needs two uplinks and failover") {
    std::string one = kTokyo;
    one.replace(one.find("[\"wan0\", \"wan1\"]"), 16, "[\"wan0\"]");
    expect_error(load(one + group("", "paths = 2\n")), "site.active_active", "5:17", {"two or more uplinks", "names 1"});
    std::string nofail = kTokyo;
    nofail.replace(nofail.find("active_active"), 0, "failover = false\n");
    expect_error(load(nofail + group("", "paths = 2\n")), "site.active_active", "6:17", {"needs failover = true"});
}

TEST_CASE("active_active: XFRM groups and WireGuard full tunnels load and act; an XFRM full tunnel is refused") {
    auto xfrm = load(kTokyo + group("transport = \"xfrm\"\n", "paths = 2\n"));
    expect_ok(xfrm);
    CHECK(xfrm.not_acted_on.empty());
    CHECK(xfrm.intent->groups[0].transport == Transport::xfrm);
    CHECK(xfrm.intent->groups[0].self_paths == 2);
    const std::string exit = "[{ name = \"hq\", default_route = true }]";
    auto full = load(kTokyo + group("", "paths = 2\n", exit));
    expect_ok(full);
    CHECK(full.not_acted_on.empty());
    expect_error(load(kTokyo + group("transport = \"xfrm\"\n", "paths = 2\n", exit)), "autovpn.hubs", "14:8",
                 {"full tunnel", "WireGuard groups only", "output mark"});
}

TEST_CASE("paths > 1 without active_active, or out of range, is refused; an XFRM hub's spreading spoke is not") {
    std::string plain = kTokyo;
    plain.replace(plain.find("active_active = true\n"), 21, "");
    expect_error(load(plain + group("", "paths = 2\n")), "autovpn.member[1].paths", "/cfg/site.toml:26:9",
                 {"needs active_active = true"});
    expect_error(load(kTokyo + group("", "paths = 5\n")), "autovpn.member[1].paths", "/cfg/site.toml:27:9", {"4"});
    expect_error(load(kTokyo + group("", "paths = 3\n")), "autovpn.member[1].paths", "/cfg/site.toml:27:9",
                 {"\"tokyo\" needs paths = 2", "the entry says 3"});
    // A hub whose spoke runs two paths, in an XFRM group: it answers both.
    std::string hub = "[site]\nname = \"hq\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n"
                      "[autovpn]\ngroup = \"corp\"\ntransport = \"xfrm\"\n" +
                      member("tokyo", "spoke", 2, "[\"10.50.20.0/24\"]", "[\"hq\"]") + "paths = 2\n";
    auto r = load(hub);
    expect_ok(r);
    CHECK(most_paths(r.intent->groups[0]) == 2);
}

TEST_CASE("active_active over three or four uplinks: a path each; more are refused") {
    for (const std::string& uplinks : {std::string("\"wan0\", \"wan1\", \"wan2\""),
                                       std::string("\"wan0\", \"wan1\", \"wan2\", \"wan3\"")}) {
        std::string site = kTokyo;
        site.replace(site.find("\"wan0\", \"wan1\""), 14, uplinks);
        const size_t n = uplinks.size() / 8 + 1;
        auto r = load(site + group("", "paths = " + std::to_string(n) + "\n"));
        expect_ok(r);
        CHECK(r.intent->groups[0].self_paths == n);
    }
    std::string five = kTokyo;
    five.replace(five.find("\"wan0\", \"wan1\""), 14, "\"wan0\", \"wan1\", \"wan2\", \"wan3\", \"wan4\"");
    auto r = load(five + group("", "paths = 4\n"));
    CHECK_FALSE(r.ok());
    CHECK(all_diagnostics(r).find("at most 4 uplinks") != std::string::npos);
}

TEST_CASE("a peer's paths need room: interface names and ports") {
    std::string hub = "[site]\nname = \"hq\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"hq.key\"\n"
                      "[autovpn]\ngroup = \"corp\"\ninterface = \"avpn-corp-long\"\n" +
                      member("tokyo", "spoke", 2, "[\"10.50.20.0/24\"]", "[\"hq\"]") + "paths = 2\n";
    expect_error(load(hub), "autovpn.interface", "8:13", {"avpn-corp-long.p1", "over 15 characters"});
    std::string ports = "[site]\nname = \"hq\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"hq.key\"\n"
                        "[[autovpn]]\ngroup = \"corp\"\nlisten_port = 51820\n" +
                        std::string("[[autovpn.member]]\nname = \"tokyo\"\nrole = \"spoke\"\npublic_key = \"") + pub(2) +
                        "\"\nexports = [\"10.50.20.0/24\"]\nhubs = [\"hq\"]\npaths = 2\n"
                        "[[autovpn]]\ngroup = \"lab\"\nlisten_port = 51821\n";
    auto r = load(ports);
    CHECK_FALSE(r.ok());
    CHECK(all_diagnostics(r).find("listen port \"51821\" is already used") != std::string::npos);
}

TEST_CASE("active_active: the pairs that run one path are named in warnings") {
    // hq without a contact: the spreading end has nowhere to start path 1.
    std::string s = kTokyo + "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
                    member("hq", "hub", 1, "[\"10.1.0.0/16\"]") +
                    "[[autovpn.member]]\nname = \"tokyo\"\nrole = \"spoke\"\npublic_key = \"" + std::string(kSitePub) +
                    "\"\nexports = [\"10.50.20.0/24\"]\nhubs = [\"hq\"]\npaths = 2\n";
    auto r = load(s);
    expect_ok(r);
    expect_warning(r, "autovpn.member[1].paths", "26:9", {"runs one path with \"hq\"", "no contact"});
    // hq spreads too: both named.
    std::string spread = kTokyo + group("", "paths = 2\n");
    spread.replace(spread.find("contact = \"203.0.113.1:51820\"\n"), 0, "paths = 2\n");
    auto r2 = load(spread);
    expect_ok(r2);
    expect_warning(r2, "autovpn.member[0].paths", "20:9", {"both spread", "one path"});
}
