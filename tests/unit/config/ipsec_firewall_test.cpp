// [[ipsec]] interop tunnels and [[firewall]] rules.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Lines 6-9: two VLANs.
const std::string kVlans = "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.30.20.0/24\"\n[[vlan]]\nname = \"Servers\"\nsubnets = [\"10.30.100.0/24\", \"10.30.101.0/24\"]\n";

MemFiles with_psk() {
    MemFiles f;
    f.put("/cfg/aws.psk", "correct horse battery staple\n");
    return f;
}

}  // namespace

TEST_CASE("aws and azure tunnels are route-based: type = policy is an error") {
    for (const char* partner : {"aws", "azure"}) {
        auto r = load(kHub + kVlans + "[[ipsec]]\nname = \"cloud\"\npartner = \"" + partner + "\"\ntype = \"policy\"\n" +
                          "remote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\nremote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n",
                      with_psk());
        expect_error(r, "ipsec[0].type", "15:8", {"route-based", std::string("\"") + partner + "\""});
    }
}

TEST_CASE("remote networks, local VLANs and the PSK file are required") {
    auto r = load(kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"vpn.example.net\"\n");
    expect_error(r, "ipsec[0].psk_file", "12:1", {"missing required key"});
    expect_error(r, "ipsec[0].remote_networks", "12:1", {"missing required key"});
    expect_error(r, "ipsec[0].local_vlans", "12:1", {"missing required key"});
    auto empty = load(kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"vpn.example.net\"\npsk_file = \"aws.psk\"\n"
                                      "remote_networks = []\nlocal_vlans = [\"Corp\", \"Nope\"]\n", with_psk());
    expect_error(empty, "ipsec[0].remote_networks", "16:19", {"at least one entry"});
    expect_error(empty, "ipsec[0].local_vlans[1]", "17:24", {"no [[vlan]] named \"Nope\""});
    auto missing_file = load(kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"vpn.example.net\"\npsk_file = \"gone.psk\"\n"
                                             "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n");
    expect_error(missing_file, "ipsec[0].psk_file", "15:12", {"cannot open /cfg/gone.psk"});
}

TEST_CASE("an empty PSK file is an error") {
    MemFiles files;
    files.put("/cfg/empty.psk", "\n");
    auto r = load(kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"empty.psk\"\n"
                                  "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n", files);
    expect_error(r, "ipsec[0].psk_file", "15:12", {"/cfg/empty.psk is empty"});
}

TEST_CASE("dpd.timeout other than its default is a warning, not an error") {
    std::string base = kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\n"
                                       "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n";
    auto r = load(base + "dpd = { action = \"hold\", delay = \"5s\", timeout = \"2m\" }\n", with_psk());
    expect_ok(r);
    expect_warning(r, "ipsec[0].dpd.timeout", "18:50", {"charon's retransmission settings", "not a per-connection"});
    CHECK(r.intent->ipsec[0].dpd_timeout.count() == 120);
    CHECK(r.intent->ipsec[0].dpd_action == DpdAction::hold);
    auto plain = load(base + "dpd = { timeout = \"30s\" }\n", with_psk());
    expect_ok(plain);
    CHECK(plain.warnings.empty());
}

TEST_CASE("a responder-only tunnel: DPD clears by default; restart or hold, which initiate, are errors") {
    std::string base = kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\n"
                                       "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\ninitiator = false\n";
    auto plain = load(base, with_psk());
    expect_ok(plain);
    CHECK(plain.intent->ipsec[0].dpd_action == DpdAction::clear);
    auto delay_only = load(base + "dpd = { delay = \"5s\" }\n", with_psk());
    expect_ok(delay_only);
    CHECK(delay_only.intent->ipsec[0].dpd_action == DpdAction::clear);
    auto cleared = load(base + "dpd = { action = \"clear\" }\n", with_psk());
    expect_ok(cleared);
    for (const char* action : {"restart", "hold"}) {
        auto r = load(base + "dpd = { action = \"" + action + "\" }\n", with_psk());
        expect_error(r, "ipsec[0].dpd.action", "19:18",
                     {std::string("\"") + action + "\"", "responder-only (initiator = false)", "use \"clear\""});
    }
    // An initiator keeps "restart" as its default.
    auto initiator = load(kHub + kVlans + "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\n"
                                          "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n", with_psk());
    expect_ok(initiator);
    CHECK(initiator.intent->ipsec[0].dpd_action == DpdAction::restart);
}

TEST_CASE("IPsec: bad remote, unknown uplink, long default interface, route-only keys on policy tunnels") {
    auto r = load(kHub + kVlans + "[[ipsec]]\nname = \"very-long-name\"\npartner = \"aws\"\nuplink = \"wan9\"\n"
                                  "remote = \"10.0.0.256\"\npsk_file = \"aws.psk\"\nremote_networks = [\"172.31.0.0/16\"]\n"
                                  "local_vlans = [\"Corp\"]\nike_lifetime = \"0s\"\n" +
                      std::string("[[ipsec]]\nname = \"p\"\nremote = \"192.0.2.9\"\npsk_file = \"aws.psk\"\n"
                                  "remote_networks = [\"172.16.0.0/16\"]\nlocal_vlans = [\"Corp\"]\nif_id = 0x41560011\ninterface = \"x\"\n"),
                  with_psk());
    expect_error(r, "ipsec[0].uplink", "15:10", {"\"wan9\" is not one of [site] uplinks"});
    expect_error(r, "ipsec[0].remote", "16:10", {"neither an IP address nor a host name"});
    expect_error(r, "ipsec[0].ike_lifetime", "20:16", {"longer than 0s"});
    expect_error(r, "ipsec[0].interface", "12:1", {"\"avx-very-long-name\"", "at most 15"});
    expect_error(r, "ipsec[1].if_id", "27:9", {"only applies to route-based tunnels"});
    expect_error(r, "ipsec[1].interface", "28:13", {"only applies to route-based tunnels"});
}

TEST_CASE("IPsec tunnel names are unique") {
    std::string t = "[[ipsec]]\nname = \"t\"\nremote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\n"
                    "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n";
    auto r = load(kHub + kVlans + t + t, with_psk());
    expect_error(r, "ipsec[1].name", "19:8", {"IPsec tunnel \"t\" is already used at /cfg/site.toml:13:8"});
}

TEST_CASE("firewall rules: endpoints, protocols, ports") {
    auto r = load(kHub + kVlans + "[autovpn]\ngroup = \"corp\"\n" + member("hq", "hub", 1, "[\"10.1.0.0/16\"]") +  // 12-18
                  "[[firewall]]\nfrom = \"vlan:Nope\"\nto = \"site:nobody\"\n" +                                     // 19-21
                  "[[firewall]]\nfrom = \"corp\"\nto = \"10.0.0.1/8\"\nprotocol = \"gre\"\n" +                       // 22-25
                  "[[firewall]]\nfrom = \"vlan:Corp\"\nto = \"site:hq\"\nprotocol = \"icmp\"\nports = [80]\n" +      // 26-30
                  "[[firewall]]\nfrom = \"any\"\nto = \"vlan:Servers\"\nprotocol = \"tcp\"\nports = [0, 443]\n" +    // 31-35
                  "[[firewall]]\nto = \"any\"\naction = \"drop\"\n");                                                // 36-38
    expect_error(r, "firewall[0].from", "20:8", {"no [[vlan]] named \"Nope\""});
    expect_error(r, "firewall[0].to", "21:6", {"no member named \"nobody\""});
    expect_error(r, "firewall[1].from", "23:8", {"not \"any\", \"vlan:<VLAN name>\", \"site:<member name>\" or a prefix"});
    expect_error(r, "firewall[1].to", "24:6", {"host bits set"});
    expect_error(r, "firewall[1].protocol", "25:12", {"\"gre\" is not one of \"any\", \"tcp\", \"udp\" or \"icmp\""});
    expect_error(r, "firewall[2].ports", "30:9", {"ports need protocol = \"tcp\" or \"udp\""});
    expect_error(r, "firewall[3].ports[0]", "35:10", {"out of range"});
    expect_error(r, "firewall[4].from", "36:1", {"missing required key"});
    expect_error(r, "firewall[4].action", "38:10", {"\"drop\" is not one of \"allow\" or \"deny\""});
    CHECK(r.errors.size() == 9);
}

TEST_CASE("a rule between two local VLANs or two peers is refused: no such traffic passes the rules") {
    auto r = load(kHub + kVlans + "[autovpn]\ngroup = \"corp\"\n" + member("hq", "hub", 1, "[\"10.1.0.0/16\"]") +  // 12-18
                  member("b1", "hub", 2, "[\"10.2.0.0/16\"]") +                                                       // 19-23
                  "[[firewall]]\nfrom = \"vlan:Corp\"\nto = \"vlan:Servers\"\n" +                                     // 24-26
                  "[[firewall]]\nfrom = \"site:hq\"\nto = \"site:b1\"\n");                                            // 27-29
    expect_error(r, "firewall[0].to", "26:6", {"both vlan: references", "\"site:<member>\""});
    expect_error(r, "firewall[1].to", "29:6", {"both site: references", "\"vlan:<VLAN>\""});
    CHECK(r.errors.size() == 2);
}

TEST_CASE("a valid firewall rule is kept as written") {
    auto r = load(kHub + kVlans + "[autovpn]\ngroup = \"corp\"\n" + member("hq", "hub", 1, "[\"10.1.0.0/16\"]") +
                  "[[firewall]]\ncomment = \"web\"\naction = \"deny\"\nfrom = \"site:hq\"\nto = \"vlan:Servers\"\n"
                  "protocol = \"tcp\"\nports = [80, 443]\n");
    expect_ok(r);
    const FwRule& rule = r.intent->firewall.at(0);
    CHECK(rule.comment == "web");
    CHECK(rule.action == FwAction::deny);
    CHECK(rule.from == "site:hq");
    CHECK(rule.to == "vlan:Servers");
    CHECK(rule.protocol == "tcp");
    CHECK(rule.ports == std::vector<uint16_t>{80, 443});
}

TEST_CASE("if_id must lie in avpn's XFRM interface id range") {
    auto r = load(kHub + kVlans + "[[ipsec]]\nname = \"aws\"\npartner = \"aws\"\nremote = \"192.0.2.7\"\npsk_file = \"aws.psk\"\n"
                                  "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\nif_id = 5\n",
                  with_psk());
    expect_error(r, "ipsec[0].if_id", "19:9", {"5 is outside avpn's XFRM interface ids 0x41560001..0x415600ff"});
}
