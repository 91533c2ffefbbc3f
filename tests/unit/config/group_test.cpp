// AutoVPN group rules: roles, hub references, the member list, the tunnel
// subnet's room and pinned addresses, this site's own entry, several groups.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

const std::string kCorpVlan = "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\nshareable = true\n";  // 4 lines
const std::string kHq = member("hq", "hub", 1, "[\"10.1.0.0/16\"]");                                  // 5 lines

}  // namespace

TEST_CASE("a spoke needs a permitted VLAN and a hub") {
    auto r = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\n" + kHq);
    expect_error(r, "autovpn.permitted_vlans", "10:1", {"a spoke needs at least one permitted VLAN"});
    expect_error(r, "autovpn.hubs", "10:1", {"a spoke needs at least one hub"});
}

TEST_CASE("permitted VLANs must exist and be shareable") {
    auto r = load(kSpoke + kCorpVlan + "[[vlan]]\nname = \"Guest\"\nsubnet = \"10.30.40.0/24\"\nshareable = false\n" +
                  "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\", \"Guest\", \"Nope\"]\nhubs = [\"hq\"]\n" + kHq);
    expect_error(r, "autovpn.permitted_vlans[1]", "16:28", {"\"Guest\" is not shareable", "shareable = true"});
    expect_error(r, "autovpn.permitted_vlans[2]", "16:37", {"no [[vlan]] named \"Nope\"", "Corp, Guest"});
    CHECK(r.errors.size() == 2);
}

TEST_CASE("a spoke's hubs must be hub members of the group") {
    auto r = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\n" +
                  "hubs = [\"hq\", \"ghost\", \"paris\", { name = \"london\" }]\n" + kHq +
                  member("paris", "spoke", 2, "[\"10.40.0.0/24\"]", "[\"hq\"]"));
    expect_error(r, "autovpn.hubs[1]", "13:15", {"unknown hub \"ghost\"", "group \"corp\""});
    expect_error(r, "autovpn.hubs[2]", "13:24", {"\"paris\" is not a hub", "its role is spoke"});
    expect_error(r, "autovpn.hubs[3]", "13:33", {"its own hub"});
    CHECK(r.errors.size() == 3);
}

TEST_CASE("hubs do not list hubs; spokes have no exit hubs and do not advertise") {
    auto hub = load(kHub + kCorpVlan + "[autovpn]\ngroup = \"corp\"\nhubs = [\"hq\"]\npermitted_vlans = [\"Corp\"]\n" + kHq);
    expect_error(hub, "autovpn.hubs", "12:8", {"a hub does not list hubs"});
    expect_error(hub, "autovpn.permitted_vlans", "13:19", {"permitted_vlans is for spokes"});
    auto spoke = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
                      "exit_hubs = [\"hq\"]\nadvertise = [\"10.99.0.0/16\"]\n" + kHq);
    expect_error(spoke, "autovpn.exit_hubs", "14:13", {"exit_hubs is for hubs", "default_route = true"});
    expect_error(spoke, "autovpn.advertise", "15:13", {"spokes may not advertise non-connected prefixes"});
    CHECK(spoke.errors.size() == 2);
}

TEST_CASE("exit hubs must be other hub members") {
    auto r = load(kHub + kCorpVlan + "[autovpn]\ngroup = \"corp\"\nexit_hubs = [\"hq\", \"spoky\", \"london\"]\n" + kHq +
                  member("spoky", "spoke", 2, "[\"10.2.0.0/24\"]", "[\"london\"]"));
    expect_error(r, "autovpn.exit_hubs[1]", "12:20", {"\"spoky\" is not a hub"});
    expect_error(r, "autovpn.exit_hubs[2]", "12:29", {"its own hub"});
    CHECK(r.errors.size() == 2);
}

TEST_CASE("member entries follow the same role rules") {
    auto r = load(kHub + kCorpVlan + "[autovpn]\ngroup = \"corp\"\n" +
                  member("hq", "hub", 1, "[\"10.1.0.0/16\"]", "[\"london\"]") +                    // 12-17
                  member("s1", "spoke", 2, "[\"10.2.0.0/24\"]") + "exit_hubs = [\"hq\"]\n" +       // 18-23
                  member("s2", "spoke", 3, "[]", "[\"nohub\"]"));                                  // 24-29
    expect_error(r, "autovpn.member[0].hubs", "17:8", {"a hub does not list hubs"});
    expect_error(r, "autovpn.member[1].hubs", "18:1", {"a spoke needs at least one hub"});
    expect_error(r, "autovpn.member[1].exit_hubs", "23:13", {"exit_hubs is for hubs"});
    expect_error(r, "autovpn.member[2].exports", "28:11", {"must export at least one prefix"});
    expect_error(r, "autovpn.member[2].hubs[0]", "29:9", {"unknown hub \"nohub\""});
}

TEST_CASE("a role of off has no role rules but references must still resolve") {
    auto r = load("[site]\nname = \"london\"\nrole = \"off\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n" + kCorpVlan +
                  "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" + kHq);
    expect_ok(r);
    auto bad = load("[site]\nname = \"london\"\nrole = \"off\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n" +
                    kCorpVlan + "[autovpn]\ngroup = \"corp\"\nhubs = [\"nope\"]\n" + kHq);
    expect_error(bad, "autovpn.hubs[0]", "12:9", {"unknown hub"});
}

TEST_CASE("members: duplicates, shared keys and bad public keys") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\n" + member("a", "hub", 1) + member("a", "hub", 2) +
                  member("b", "hub", 1) + "[[autovpn.member]]\nname = \"c\"\nrole = \"hub\"\npublic_key = \"bm90IGEga2V5\"\n");
    expect_error(r, "autovpn.member[1].name", "13:8", {"duplicate member \"a\"", "first listed at /cfg/site.toml:8:1"});
    expect_error(r, "autovpn.member[2].public_key", "19:14", {"\"a\" and \"b\" have the same public key"});
    expect_error(r, "autovpn.member[3].public_key", "23:14", {"not a base64 X25519 public key"});
}

TEST_CASE("the member list may include this site: skipped, but it must agree") {
    LoadResult good = load(kHub + "[autovpn]\ngroup = \"corp\"\n[[autovpn.member]]\nname = \"london\"\n" +
                           "role = \"hub\"\npublic_key = \"" + kSitePub + "\"\n" + kHq);
    expect_ok(good);
    REQUIRE(good.intent->groups[0].members.size() == 1);
    CHECK(good.intent->groups[0].members[0].name == "hq");

    auto r = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
                  member("london", "hub", 7, "[\"10.30.20.0/24\"]") + kHq);
    expect_error(r, "autovpn.member[0].role", "16:8", {"gives \"london\" role hub", "[site] role is spoke"});
    expect_error(r, "autovpn.member[0].public_key", "17:14", {"does not match its key_file /cfg/london.key", kSitePub});
}

TEST_CASE("a stale self entry's exports are a warning") {
    auto r = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
                  "[[autovpn.member]]\nname = \"london\"\nrole = \"spoke\"\npublic_key = \"" + kSitePub + "\"\n"
                  "exports = [\"10.30.21.0/24\"]\nhubs = [\"hq\"]\n" + kHq);
    expect_ok(r);
    expect_warning(r, "autovpn.member[0].exports", "18:11", {"exports [10.30.21.0/24]", "exports [10.30.20.0/24]", "avpnctl member"});
}

TEST_CASE("tunnel subnet must hold every member and this site") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntunnel_subnet = \"100.64.0.0/30\"\n" + member("a", "hub", 1) +
                  member("b", "hub", 2));
    expect_error(r, "autovpn.tunnel_subnet", "8:17", {"2 usable addresses", "3 sites"});
    auto fits = load(kHub + "[autovpn]\ngroup = \"corp\"\ntunnel_subnet = \"100.64.0.0/29\"\n" + member("a", "hub", 1) +
                     member("b", "hub", 2));
    expect_ok(fits);
}

TEST_CASE("pinned tunnel addresses: inside the subnet, usable, unique") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntunnel_subnet = \"100.64.0.0/24\"\ntunnel_address = \"100.64.0.7\"\n" +
                  member("a", "hub", 1) + "tunnel_address = \"100.64.1.1\"\n" + member("b", "hub", 2) +
                  "tunnel_address = \"100.64.0.7\"\n" + member("c", "hub", 3) + "tunnel_address = \"100.64.0.255\"\n" +
                  member("d", "hub", 4) + "tunnel_address = \"100.64.0.0\"\n");
    expect_error(r, "autovpn.member[0].tunnel_address", "14:18", {"outside the tunnel subnet 100.64.0.0/24"});
    expect_error(r, "autovpn.member[1].tunnel_address", "19:18",
                 {"100.64.0.7 of \"b\" is already pinned to \"london\" at /cfg/site.toml:9:18"});
    expect_error(r, "autovpn.member[2].tunnel_address", "24:18", {"broadcast address"});
    expect_error(r, "autovpn.member[3].tunnel_address", "29:18", {"network address"});
}

TEST_CASE("member list file: resolved against the site's directory; a missing file is one error") {
    MemFiles files;
    files.put("/cfg/lists/corp.toml", "[[member]]\nname = \"hq\"\nrole = \"hub\"\npublic_key = \"" + pub(1) +
                                          "\"\nexports = [\"10.1.0.0/16\"]\nbogus = true\n");
    auto r = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\nmembers = \"lists/corp.toml\"\n" +
                  "permitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n", files);
    expect_error(r, "member[0].bogus", "/cfg/lists/corp.toml:6:1", {"unknown key"});
    CHECK(r.errors.size() == 1);

    auto missing = load(kSpoke + kCorpVlan + "[autovpn]\ngroup = \"corp\"\nmembers = \"nowhere.toml\"\n" +
                        "permitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n[[firewall]]\nfrom = \"any\"\nto = \"site:hq\"\n");
    expect_error(missing, "autovpn.members", "12:11", {"cannot open /cfg/nowhere.toml"});
    CHECK(missing.errors.size() == 1);  // no "unknown hub", no unknown firewall site
}

TEST_CASE("members file and inline members are exclusive") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"m.toml\"\n" + kHq);
    expect_error(r, "autovpn.members", "8:11", {"not both"});
}

TEST_CASE("default interface name too long for Linux") {
    auto r = load(kHub + "[autovpn]\ngroup = \"engineering-lab\"\n");
    expect_error(r, "autovpn.interface", "6:1", {"\"avpn-engineering-lab\"", "at most 15", "set interface"});
    auto fixed = load(kHub + "[autovpn]\ngroup = \"engineering-lab\"\ninterface = \"avpn-eng\"\n");
    expect_ok(fixed);
}

TEST_CASE("several groups must not share names, interfaces, tables, ports or rule slots") {
    auto r = load(kHub + "[[autovpn]]\ngroup = \"corp\"\n" +                             // 6-7
                  "[[autovpn]]\ngroup = \"corp\"\ntunnel_subnet = \"172.21.0.0/24\"\n" +  // 8-10
                  "[[autovpn]]\ngroup = \"lab\"\ntunnel_subnet = \"172.22.0.0/24\"\ninterface = \"avpn-corp\"\n"
                  "table = 7100\nlisten_port = 51820\nrule_priority = 7000\n");           // 11-17
    expect_error(r, "autovpn[1].group", "9:9", {"group \"corp\" is already used at /cfg/site.toml:7:9"});
    expect_error(r, "autovpn[2].interface", "14:13", {"interface name \"avpn-corp\" is already used"});
    expect_error(r, "autovpn[2].table", "15:9", {"routing table \"7100\" is already used"});
    expect_error(r, "autovpn[2].listen_port", "16:15", {"listen port \"51820\" is already used"});
    expect_error(r, "autovpn[2].rule_priority", "17:17", {"7000..7009 overlap", "group \"corp\" (7000..)"});
}

TEST_CASE("kernel ids are checked against avpn's ranges") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntable = 254\nrule_priority = 6999\n");
    expect_error(r, "autovpn.table", "8:9", {"kernel's own"});
    expect_error(r, "autovpn.rule_priority", "9:17", {"out of range (7000..7090)"});
}

TEST_CASE("a list the role may not have is one error, not one per entry") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\nhubs = [\"ghost\", \"phantom\"]\n");
    expect_error(r, "autovpn.hubs", "8:8", {"a hub does not list hubs"});
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a typo'd shareable is one error: the VLAN is not also reported as not shareable") {
    auto r = load(kSpoke + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\nsharable = true\n" +  // 6-9
                  "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" + kHq);
    expect_exact(r, "vlan[0].sharable", "9:1", "unknown key \"sharable\"; did you mean \"shareable\"?");
    CHECK(r.errors.size() == 1);
    // Written correctly as false, the VLAN is refused.
    auto unshared = load(kSpoke + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\nshareable = false\n" +
                         "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" + kHq);
    expect_error(unshared, "autovpn.permitted_vlans[0]", "12:20", {"\"Corp\" is not shareable"});
}
