// The group header of a member list ([group] in a file, [autovpn.header]
// inline): the group-wide settings every member reads, which a site file
// may repeat but not contradict.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

const std::string kListFile = "/cfg/members.toml";

// Lines 1-4: the header; lines 5-9: member hq.
std::string list_with_header(const std::string& name = "corp", const std::string& subnet = "100.64.0.0/10",
                             const std::string& transport = "wireguard") {
    return "[group]\nname = \"" + name + "\"\ntunnel_subnet = \"" + subnet + "\"\ntransport = \"" + transport + "\"\n" +
           "[[member]]\nname = \"hq\"\nrole = \"hub\"\npublic_key = \"" + pub(1) + "\"\nexports = [\"10.1.0.0/16\"]\n";
}

MemFiles files_with(const std::string& list) {
    MemFiles files;
    files.put(kListFile, list);
    return files;
}

// Lines 1-8: a hub in group corp reading members.toml; `extra` from line 9.
LoadResult load_hub(const std::string& extra, const std::string& list = list_with_header()) {
    return load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"members.toml\"\n" + extra, files_with(list));
}

}  // namespace

TEST_CASE("the header's settings become the group's; a site file need not repeat them") {
    auto r = load_hub("", list_with_header("corp", "172.20.0.0/24", "xfrm"));
    expect_ok(r);
    CHECK(r.intent->groups[0].tunnel_subnet.str() == "172.20.0.0/24");
    CHECK(r.intent->groups[0].transport == Transport::xfrm);
}

TEST_CASE("a site value equal to the header's is fine") {
    auto r = load_hub("tunnel_subnet = \"100.64.0.0/10\"\ntransport = \"wireguard\"\n");
    expect_ok(r);
    CHECK(r.intent->groups[0].tunnel_subnet.str() == "100.64.0.0/10");
}

TEST_CASE("without a header the site's values hold, as before") {
    const std::string list = "[[member]]\nname = \"hq\"\nrole = \"hub\"\npublic_key = \"" + pub(1) + "\"\n";
    auto r = load_hub("tunnel_subnet = \"10.99.0.0/24\"\ntransport = \"xfrm\"\n", list);
    expect_ok(r);
    CHECK(r.intent->groups[0].tunnel_subnet.str() == "10.99.0.0/24");
    CHECK(r.intent->groups[0].transport == Transport::xfrm);
}

TEST_CASE("a header without a key leaves that key to the site") {
    const std::string list = "[group]\nname = \"corp\"\ntransport = \"xfrm\"\n";
    auto r = load_hub("tunnel_subnet = \"10.99.0.0/24\"\n", list);
    expect_ok(r);
    CHECK(r.intent->groups[0].tunnel_subnet.str() == "10.99.0.0/24");
    CHECK(r.intent->groups[0].transport == Transport::xfrm);
}

TEST_CASE("a site value that differs from the header's names both places and both values") {
    auto r = load_hub("tunnel_subnet = \"100.64.0.0/16\"\ntransport = \"xfrm\"\n");
    expect_exact(r, "autovpn.tunnel_subnet", "9:17",
                 "\"100.64.0.0/16\" differs from \"100.64.0.0/10\" set by the group header (group.tunnel_subnet at "
                 "/cfg/members.toml:3:17); every member uses the header's tunnel_subnet: remove it here or make it equal");
    expect_exact(r, "autovpn.transport", "10:13",
                 "\"xfrm\" differs from \"wireguard\" set by the group header (group.transport at "
                 "/cfg/members.toml:4:13); every member uses the header's transport: remove it here or make it equal");
    CHECK(r.errors.size() == 2);
}

TEST_CASE("a differing tunnel subnet is one error, not also every address it would misplace") {
    // 100.64.0.9 is inside the site's /16 but the header's subnet is 10.0.0.0/30.
    auto r = load_hub("tunnel_subnet = \"100.64.0.0/16\"\ntunnel_address = \"100.64.0.9\"\n",
                      list_with_header("corp", "10.0.0.0/30"));
    expect_error(r, "autovpn.tunnel_subnet", "9:17", {"differs from \"10.0.0.0/30\""});
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a header for another group is an error at the header naming the site's group") {
    auto r = load_hub("", list_with_header("lab"));
    expect_exact(r, "group.name", "/cfg/members.toml:2:8",
                 "this member list is for group \"lab\" but autovpn.group at /cfg/site.toml:7:9 is \"corp\"; a site "
                 "reads the member list of the group it joins");
    CHECK(r.errors.size() == 1);
}

TEST_CASE("the header's keys are checked like any table's") {
    auto r = load_hub("", "[group]\ntunnel_subnet = \"100.64.0.1/10\"\ntransport = \"gre\"\nmtu = 1400\n");
    expect_error(r, "group.name", "/cfg/members.toml:1:1", {"missing required key \"name\""});
    expect_error(r, "group.tunnel_subnet", "/cfg/members.toml:2:17", {"host bits set", "100.64.0.0/10"});
    expect_error(r, "group.transport", "/cfg/members.toml:3:13", {"\"gre\" is not one of"});
    expect_error(r, "group.mtu", "/cfg/members.toml:4:1", {"unknown key \"mtu\""});
    CHECK(r.errors.size() == 4);
}

TEST_CASE("the header's transport is the one wireguard_backend is checked against") {
    auto r = load_hub("wireguard_backend = \"kernel\"\n", list_with_header("corp", "100.64.0.0/10", "xfrm"));
    expect_error(r, "autovpn.wireguard_backend", "9:21", {"only applies with transport = \"wireguard\""});
    CHECK(r.errors.size() == 1);
}

TEST_CASE("checks of the tunnel subnet point at the header when it sets the subnet") {
    // A /30 has room for 2 sites; the group has 3.
    const std::string list = list_with_header("corp", "10.0.0.0/30") + "[[member]]\nname = \"b\"\nrole = \"hub\"\n" +
                             "public_key = \"" + pub(2) + "\"\n";
    auto r = load_hub("", list);
    expect_exact(r, "group.tunnel_subnet", "/cfg/members.toml:3:17",
                 "tunnel subnet 10.0.0.0/30 has 2 usable addresses but the group has 3 sites");
    auto overlap = load_hub("", list_with_header("corp", "10.1.2.0/24"));
    expect_error(overlap, "member[0].exports[0]", "/cfg/members.toml:9:12",
                 {"the tunnel subnet 10.1.2.0/24 of group \"corp\"", "(at /cfg/members.toml:3:17)"});
}

TEST_CASE("inline member tables take the header as [autovpn.header]") {
    // Lines 6-9: the group; 10-12: the header; 13-17: member hq.
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\ntunnel_subnet = \"10.9.0.0/24\"\ntransport = \"xfrm\"\n" +
                  "[autovpn.header]\nname = \"corp\"\ntunnel_subnet = \"10.8.0.0/24\"\n" +
                  member("hq", "hub", 1, "[\"10.1.0.0/16\"]"));
    expect_exact(r, "autovpn.tunnel_subnet", "8:17",
                 "\"10.9.0.0/24\" differs from \"10.8.0.0/24\" set by the group header (autovpn.header.tunnel_subnet "
                 "at /cfg/site.toml:12:17); every member uses the header's tunnel_subnet: remove it here or make it equal");
    CHECK(r.errors.size() == 1);

    auto ok = load(kHub + "[autovpn]\ngroup = \"corp\"\n[autovpn.header]\nname = \"corp\"\ntransport = \"xfrm\"\n" +
                   member("hq", "hub", 1, "[\"10.1.0.0/16\"]"));
    expect_ok(ok);
    CHECK(ok.intent->groups[0].transport == Transport::xfrm);
}

TEST_CASE("a member list file carries its own header, not the site file") {
    auto r = load_hub("[autovpn.header]\nname = \"corp\"\n");
    expect_exact(r, "autovpn.header", "9:1",
                 "a member list file carries its group header itself, as a [group] table in that file; "
                 "[autovpn.header] is for inline member tables");
    CHECK(r.errors.size() == 1);
}

// docs/shortcuts.md: opt-in per group, from the header (every member alike)
// or the site's group; WireGuard only.
TEST_CASE("shortcuts: set by the header or the site, refused for XFRM, a differing site value named") {
    std::string list = list_with_header();
    list.insert(list.find("[[member]]"), "shortcuts = true\n");  // header line 5
    auto r = load_hub("", list);
    expect_ok(r);
    CHECK(r.intent->groups[0].shortcuts);

    r = load_hub("shortcuts = true\n");
    expect_ok(r);
    CHECK(r.intent->groups[0].shortcuts);
    r = load_hub("");
    expect_ok(r);
    CHECK_FALSE(r.intent->groups[0].shortcuts);

    r = load_hub("shortcuts = false\n", list);
    expect_exact(r, "autovpn.shortcuts", "9:13",
                 "\"false\" differs from \"true\" set by the group header (group.shortcuts at "
                 "/cfg/members.toml:5:13); every member uses the header's shortcuts: remove it here or make it equal");

    std::string xfrm = list_with_header("corp", "100.64.0.0/10", "xfrm");
    xfrm.insert(xfrm.find("[[member]]"), "shortcuts = true\n");
    r = load_hub("", xfrm);
    expect_error(r, "group.shortcuts", "/cfg/members.toml:5:13", {"WireGuard groups only"});
    r = load_hub("transport = \"xfrm\"\nshortcuts = true\n", list_with_header("corp", "100.64.0.0/10", "xfrm"));
    expect_error(r, "autovpn.shortcuts", "10:13", {"WireGuard groups only"});
    r = load_hub("shortcuts = \"yes\"\n");
    expect_error(r, "autovpn.shortcuts", "9:13", {"boolean"});
    // Without two registries no NAT type is known: said, not refused.
    r = load_hub("shortcuts = true\n");
    bool warned = false;
    for (const Error& w : r.warnings) warned = warned || w.why.find("two registries") != std::string::npos;
    CHECK(warned);
}
