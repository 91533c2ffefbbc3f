// Prefix overlaps: exports inside a group (nested counts), tunnel subnets,
// several groups, this site's own VLANs, and a 10,000-member group.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

TEST_CASE("a member export inside a shared VLAN: the error is at the member and names the VLAN") {
    auto r = load(kSpoke + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.0.0/22\"\nshareable = true\n" +  // 6-9
                  "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +         // 10-13
                  member("hq", "hub", 1, "[\"10.1.0.0/16\", \"10.30.2.0/24\"]"));                        // 14-18
    expect_exact(r, "autovpn.member[0].exports[1]", "18:27",
                 "10.30.2.0/24 exported by member \"hq\" of group \"corp\" is inside subnet 10.30.0.0/22 of this "
                 "site's VLAN \"Corp\" (vlan[0].subnet at /cfg/site.toml:8:10, shareable); this site's own networks "
                 "win: drop the prefix from the member's exports or renumber one of them");
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a member export equal to a VLAN that is not shared is an error too: local networks win") {
    auto r = load(kHub + "[[vlan]]\nname = \"Guest\"\nsubnet = \"192.168.1.0/24\"\n[autovpn]\ngroup = \"corp\"\n" +
                  member("a", "hub", 1, "[\"192.168.1.0/24\"]"));  // 11-15
    expect_exact(r, "autovpn.member[0].exports[0]", "15:12",
                 "192.168.1.0/24 exported by member \"a\" of group \"corp\" equals subnet 192.168.1.0/24 of this "
                 "site's VLAN \"Guest\" (vlan[0].subnet at /cfg/site.toml:8:10, not shareable); this site's own "
                 "networks win: drop the prefix from the member's exports or renumber one of them");
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a member export covering a VLAN, from a member list file, names the list's file:line:col") {
    MemFiles files;
    files.put("/cfg/m.toml", "[[member]]\nname = \"a\"\nrole = \"hub\"\npublic_key = \"" + pub(1) +
                                 "\"\nexports = [\"10.2.0.0/24\", \"192.168.0.0/16\"]\n");
    // Lines 6-9: VLAN Lab with two subnets; the second is covered.
    auto r = load(kHub + "[[vlan]]\nname = \"Lab\"\nsubnets = [\"10.77.0.0/24\", \"192.168.5.0/24\"]\n" +
                      "[autovpn]\ngroup = \"corp\"\nmembers = \"m.toml\"\n",
                  files);
    expect_exact(r, "member[0].exports[1]", "/cfg/m.toml:5:27",
                 "192.168.0.0/16 exported by member \"a\" of group \"corp\" covers subnet 192.168.5.0/24 of this "
                 "site's VLAN \"Lab\" (vlan[0].subnets[1] at /cfg/site.toml:8:28, not shareable); this site's own "
                 "networks win: drop the prefix from the member's exports or renumber one of them");
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a VLAN overlapping a member of one of two groups is reported once") {
    auto r = load(kHub + "[[vlan]]\nname = \"Guest\"\nsubnet = \"192.168.1.0/24\"\n" +               // 6-8
                  "[[autovpn]]\ngroup = \"corp\"\n" + member("a", "hub", 1, "[\"192.168.1.0/24\"]") +  // 9-15
                  "[[autovpn]]\ngroup = \"lab\"\ntunnel_subnet = \"172.20.0.0/24\"\n" +
                  member("b", "hub", 2, "[\"10.2.0.0/24\"]"));
    expect_error(r, "autovpn[0].member[0].exports[0]", "15:12", {"equals subnet 192.168.1.0/24", "VLAN \"Guest\""});
    CHECK(r.errors.size() == 1);
}

TEST_CASE("overlapping exports of two members are reported in the member list") {
    MemFiles files;
    files.put("/cfg/m.toml", "[[member]]\nname = \"a\"\nrole = \"hub\"\npublic_key = \"" + pub(1) +
                                 "\"\nexports = [\"10.8.0.0/16\"]\n"
                                 "[[member]]\nname = \"b\"\nrole = \"hub\"\npublic_key = \"" + pub(2) +
                                 "\"\nexports = [\"10.8.8.0/24\"]\n");
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"m.toml\"\n", files);
    expect_error(r, "member[1].exports[0]", "/cfg/m.toml:10:12",
                 {"10.8.8.0/24 exported by site \"b\"", "10.8.0.0/16 exported by site \"a\"", "/cfg/m.toml:5:12"});
}

TEST_CASE("one site's own prefixes may nest") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\n" + member("a", "hub", 1, "[\"10.8.0.0/16\", \"10.8.8.0/24\"]"));
    expect_ok(r);
}

TEST_CASE("off members export nothing, so they overlap nothing") {
    auto r = load(kHub + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.8.0.0/24\"\nshareable = true\n[autovpn]\ngroup = \"corp\"\n" +
                  member("a", "off", 1, "[\"10.8.0.0/24\"]"));
    expect_ok(r);
}

TEST_CASE("the tunnel subnet must not overlap an export") {
    auto r = load(kHub + "[autovpn]\ngroup = \"corp\"\n" + member("a", "hub", 1, "[\"100.64.7.0/24\"]"));
    expect_error(r, "autovpn.member[0].exports[0]", "12:12",
                 {"100.64.7.0/24 exported by site \"a\"", "the tunnel subnet 100.64.0.0/10 of group \"corp\""});
}

TEST_CASE("the tunnel subnet must not overlap a local VLAN, shared or not") {
    auto r = load(kHub + "[[vlan]]\nname = \"Lab\"\nsubnet = \"100.64.0.0/24\"\n[autovpn]\ngroup = \"corp\"\n");
    expect_error(r, "vlan[0].subnet", "8:10", {"subnet 100.64.0.0/24 of VLAN \"Lab\" of site \"london\"", "tunnel subnet"});
}

TEST_CASE("between groups: tunnel subnets, and the same export in two groups") {
    auto r = load(kHub + "[[autovpn]]\ngroup = \"corp\"\n" + member("a", "hub", 1, "[\"10.8.0.0/16\"]") +  // 6-12
                  "[[autovpn]]\ngroup = \"lab\"\ntunnel_subnet = \"100.64.128.0/17\"\n" +                       // 13-15
                  member("b", "hub", 2, "[\"10.8.4.0/24\"]"));                                                  // 16-20
    expect_error(r, "autovpn[1].tunnel_subnet", "15:17",
                 {"tunnel subnet 100.64.128.0/17 of group \"lab\"", "100.64.0.0/10 of group \"corp\"", "must not overlap"});
    expect_error(r, "autovpn[1].member[0].exports[0]", "20:12",
                 {"10.8.4.0/24 exported by site \"b\" in group \"lab\"", "10.8.0.0/16 exported by site \"a\" in group \"corp\"",
                  "groups must not share"});
    CHECK(r.errors.size() == 2);
}

TEST_CASE("a hub in two groups exports its VLANs to both without conflict") {
    auto r = load(kHub + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\nshareable = true\n" +
                  "[[autovpn]]\ngroup = \"corp\"\n[[autovpn]]\ngroup = \"lab\"\ntunnel_subnet = \"172.20.0.0/24\"\n");
    expect_ok(r);
    CHECK(r.intent->groups[1].interface == "avpn-lab");
}

TEST_CASE("VLAN subnets of this site must not overlap each other") {
    auto r = load(kHub + "[[vlan]]\nname = \"A\"\nsubnet = \"10.0.0.0/16\"\n[[vlan]]\nname = \"B\"\nsubnets = [\"10.0.5.0/24\"]\n");
    expect_error(r, "vlan[1].subnets", "11:11", {"10.0.5.0/24 of VLAN \"B\" overlaps 10.0.0.0/16 of VLAN \"A\""});
}

TEST_CASE("a 10,000-member group validates, and one overlap among them is found") {
    std::string list;
    auto add = [&](int i, const std::string& prefix) {
        crypto::Key32 k{};
        k[0] = uint8_t(i), k[1] = uint8_t(i >> 8), k[2] = 1;
        list += "[[member]]\nname = \"s" + std::to_string(i) + "\"\nrole = \"spoke\"\npublic_key = \"" +
                crypto::base64_encode(k.data(), k.size()) + "\"\nexports = [\"" + prefix + "\"]\nhubs = [\"london\"]\n";
    };
    for (int i = 0; i < 10000; ++i)
        add(i, "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".0/24");
    MemFiles files;
    files.put("/cfg/big.toml", list);
    auto ok = load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"big.toml\"\n", files);
    expect_ok(ok);
    CHECK(ok.intent->groups[0].members.size() == 10000);

    add(10000, "10.20.0.0/16");  // encloses members 5000..5249
    files.put("/cfg/big.toml", list);
    auto bad = load(kHub + "[autovpn]\ngroup = \"corp\"\nmembers = \"big.toml\"\n", files);
    REQUIRE_FALSE(bad.errors.empty());
    CHECK(bad.errors.size() == 250);
    CHECK(bad.errors[0].why.find("site \"s10000\"") != std::string::npos);
}
