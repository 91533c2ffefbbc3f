// Defaults, and that every field of Intent can be set from the language.
#include "fixture.hpp"
#include "orchestrator/ownership.hpp"

using namespace avpn;
using namespace avpn::test;
using namespace std::chrono_literals;

TEST_CASE("site, group and IPsec defaults") {
    MemFiles files;
    files.put("/cfg/t.psk", "psk\n");
    auto r = load(kSpoke + "[[vlan]]\nname = \"Corp\"\nsubnets = [\"10.0.1.0/24\", \"10.0.2.0/24\"]\nshareable = true\n" +
                      "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
                      member("hq", "hub", 1, "[\"10.1.0.0/16\"]") +
                      "[[ipsec]]\nname = \"aws\"\npartner = \"aws\"\nremote = \"192.0.2.7\"\npsk_file = \"t.psk\"\n"
                      "remote_networks = [\"172.31.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n"
                      "[[ipsec]]\nname = \"gen\"\nremote = \"gw.example.com\"\npsk_file = \"t.psk\"\n"
                      "remote_networks = [\"172.30.0.0/16\"]\nlocal_vlans = [\"Corp\"]\n",
                  files);
    expect_ok(r);
    const Intent& in = *r.intent;
    CHECK(in.file == kSiteFile);
    CHECK(in.site.failover);
    CHECK_FALSE(in.site.active_active);
    CHECK(in.site.nat.mode == NatMode::automatic);
    CHECK(in.site.public_key == kSitePub);
    CHECK_FALSE(in.vlans[0].id.has_value());

    const Group& g = in.groups.at(0);
    CHECK(g.tunnel_subnet.str() == "100.64.0.0/10");
    CHECK(g.interface == "avpn-corp");
    CHECK(g.table == own::kTableBase);
    CHECK(g.rule_priority == own::kRulePriorityFirst);
    CHECK(g.listen_port == 51820);
    CHECK_FALSE(g.public_port.has_value());
    CHECK(g.keepalive_seconds == 25);
    CHECK(g.transport == Transport::wireguard);
    CHECK(g.wg_backend == WgBackend::automatic);
    CHECK(g.registries.empty());
    CHECK(g.members_file == kSiteFile);  // inline members
    CHECK(g.loc.str() == std::string(kSiteFile) + ":10:1");

    const IpsecTunnel& aws = in.ipsec.at(0);
    CHECK(aws.enabled);
    CHECK(aws.type == IpsecTunnelType::route);
    CHECK(aws.interface == "avx-aws");
    CHECK(aws.uplink == "wan0");
    CHECK(aws.initiator);
    CHECK(aws.rekey);
    CHECK_FALSE(aws.reauth);
    CHECK(aws.ike_lifetime == 8h);
    CHECK(aws.child_lifetime == 1h);
    CHECK(aws.dpd_action == DpdAction::restart);
    CHECK(aws.dpd_delay == 10s);
    CHECK(aws.dpd_timeout == 30s);
    CHECK(aws.psk_file == "/cfg/t.psk");
    CHECK(aws.local_networks.size() == 2);
    CHECK(aws.local_networks[1].str() == "10.0.2.0/24");
    const IpsecTunnel& gen = in.ipsec.at(1);
    CHECK(gen.type == IpsecTunnelType::policy);
    CHECK(gen.interface.empty());
    CHECK(gen.remote == "gw.example.com");
}

TEST_CASE("later groups take the next table, rule slot and port") {
    auto r = load(kHub + "[[autovpn]]\ngroup = \"a\"\n[[autovpn]]\ngroup = \"b\"\ntunnel_subnet = \"172.20.0.0/24\"\n"
                         "registries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }, { endpoint = \"[2001:db8::1]:7000\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n",
                  [] {
                      MemFiles f;
                      f.put("/cfg/g.key", std::string(pub(9)) + "\n");
                      return f;
                  }());
    expect_ok(r);
    const Group& b = r.intent->groups.at(1);
    CHECK(b.table == own::kTableBase + 1);
    CHECK(b.rule_priority == own::kRulePriorityFirst + own::kRuleSlot);
    CHECK(b.listen_port == 51821);
    CHECK(b.interface == "avpn-b");
    REQUIRE(b.registries.size() == 2);
    CHECK(b.registries[0].endpoint.str() == "192.0.2.1:9350");
    CHECK(b.registries[0].public_key == pub(7));
    CHECK(b.registries[1].endpoint.port == 7000);
    CHECK(b.group_key_file == "/cfg/g.key");
}

TEST_CASE("registries need a group key; a single registry is a warning") {
    auto r = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }]\n");
    expect_error(r, "autovpn.registries", "8:14", {"need group_key_file"});
    expect_warning(r, "autovpn.registries", "8:14", {"single point of failure", "NAT type needs two"});
}

TEST_CASE("a registry's key is pinned: a bare endpoint, a bad key, a missing field or a duplicate is an error") {
    MemFiles f;
    f.put("/cfg/g.key", std::string(pub(9)) + "\n");
    auto bare = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [\"192.0.2.1\", \"192.0.2.2\"]\n"
                            "group_key_file = \"g.key\"\n", f);
    expect_error(bare, "autovpn.registries[0]", "8:15", {"expected { endpoint", "public_key", "pinned", "found a string"});
    auto badkey = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"xyz\" }, { endpoint = \"192.0.2.2\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n", f);
    expect_error(badkey, "autovpn.registries[0].public_key", "8:54", {"not a base64 X25519 public key"});
    auto missing = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [{ public_key = \"" + pub(7) + "\" }, { endpoint = \"192.0.2.2\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n", f);
    expect_error(missing, "autovpn.registries[0].endpoint", "8:15", {"required"});
    auto twice = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }, { endpoint = \"192.0.2.1:9350\", public_key = \"" + pub(8) + "\" }]\n"
                             "group_key_file = \"g.key\"\n", f);
    expect_error(twice, "autovpn.registries[1]", "8:104", {"192.0.2.1:9350 is listed twice"});
    auto typo = load(kHub + "[autovpn]\ngroup = \"a\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) +
                            "\", pubkey = \"x\" }, { endpoint = \"192.0.2.2\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n", f);
    expect_error(typo, "autovpn.registries[0].pubkey", "8:102", {"unknown key"});
}

TEST_CASE("contact_hold: at least a minute, only with registries") {
    MemFiles f;
    f.put("/cfg/g.key", std::string(pub(9)) + "\n");
    const std::string regs = "registries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }, { endpoint = \"192.0.2.2\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n";
    auto ok = load(kHub + "[autovpn]\ngroup = \"a\"\n" + regs + "contact_hold = \"2h\"\n", f);
    expect_ok(ok);
    CHECK(ok.intent->groups.at(0).contact_hold == std::chrono::hours(2));
    auto dflt = load(kHub + "[autovpn]\ngroup = \"a\"\n" + regs, f);
    expect_ok(dflt);
    CHECK(dflt.intent->groups.at(0).contact_hold == std::chrono::hours(24));
    auto short_hold = load(kHub + "[autovpn]\ngroup = \"a\"\n" + regs + "contact_hold = \"30s\"\n", f);
    expect_error(short_hold, "autovpn.contact_hold", "10:16", {"at least 1m"});
    auto alone = load(kHub + "[autovpn]\ngroup = \"a\"\ncontact_hold = \"2h\"\n");
    expect_error(alone, "autovpn.contact_hold", "8:16", {"only applies with registries"});
}

TEST_CASE("manual NAT: public address required; public_port only with it") {
    auto r = load(kHub + "nat = \"manual\"\n[autovpn]\ngroup = \"a\"\n");
    expect_error(r, "site.nat", "6:7", {"needs public_address"});
    auto p = load(kHub + "[autovpn]\ngroup = \"a\"\npublic_port = 4500\n");
    expect_error(p, "autovpn.public_port", "8:15", {"only used with [site] nat = \"manual\""});
    auto implied = load(kHub + "public_address = \"203.0.113.5\"\n");
    expect_ok(implied);
    CHECK(implied.intent->site.nat.mode == NatMode::manual);
}

TEST_CASE("every Intent field can be set") {
    MemFiles files;
    files.put("/cfg/g.key", pub(5) + "\n");
    files.put("/cfg/t.psk", "psk\n");
    auto r = load("[site]\nname = \"hq\"\nrole = \"hub\"\nuplinks = [\"wan0\", \"wan1\"]\nfailover = false\n"
                  "nat = \"manual\"\npublic_address = \"203.0.113.5\"\nkey_file = \"/cfg/london.key\"\n"
                  "[[vlan]]\nname = \"Corp\"\nid = 20\nsubnet = \"10.0.20.0/24\"\nshareable = true\ninterface = \"lan0.20\"\n"
                  "[autovpn]\ngroup = \"corp\"\ntunnel_subnet = \"100.100.0.0/16\"\ntable = 300\nrule_priority = 7050\n"
                  "transport = \"xfrm\"\ninterface = \"tun-corp\"\nlisten_port = 4500\npublic_port = 14500\n"
                  "keepalive = \"1m\"\nregistries = [{ endpoint = \"192.0.2.1\", public_key = \"" + pub(7) + "\" }, { endpoint = \"192.0.2.2:9000\", public_key = \"" + pub(8) + "\" }]\ngroup_key_file = \"g.key\"\n"
                  "exit_hubs = [\"ny\"]\nadvertise = [\"10.99.0.0/16\"]\ntunnel_address = \"100.100.0.1\"\n"
                  "[[autovpn.member]]\nname = \"ny\"\nrole = \"hub\"\npublic_key = \"" + pub(1) + "\"\n"
                  "exports = [\"10.2.0.0/16\"]\ncontact = \"198.51.100.2:4500\"\ntunnel_address = \"100.100.0.2\"\n"
                  "[[autovpn.member]]\nname = \"dc\"\nrole = \"hub\"\npublic_key = \"" + pub(3) + "\"\nexit_hubs = [\"ny\"]\n"
                  "[[autovpn.member]]\nname = \"br\"\nrole = \"spoke\"\npublic_key = \"" + pub(2) + "\"\n"
                  "exports = [\"10.3.0.0/24\"]\nhubs = [{ name = \"ny\", default_route = true }, \"hq\"]\n"
                  "[[ipsec]]\nname = \"gw\"\nenabled = false\npartner = \"generic\"\ntype = \"route\"\nuplink = \"wan1\"\n"
                  "local_address = \"203.0.113.5\"\nlocal_id = \"hq.example.com\"\nremote = \"192.0.2.50\"\n"
                  "remote_id = \"gw.example.com\"\ninitiator = false\npsk_file = \"t.psk\"\nremote_networks = [\"172.16.0.0/12\"]\n"
                  "local_vlans = [\"Corp\"]\nike_lifetime = \"4h\"\nchild_lifetime = \"30m\"\nrekey = false\nreauth = true\n"
                  "dpd = { action = \"clear\", delay = \"20s\" }\nike_proposals = [\"aes256-sha256-modp2048\"]\n"
                  "esp_proposals = [\"aes128gcm16\"]\nif_id = 0x41560010\ninterface = \"ipsec-gw\"\nclient_vpn = true\n"
                  "[[firewall]]\ncomment = \"c\"\naction = \"allow\"\nfrom = \"vlan:Corp\"\nto = \"10.3.0.0/24\"\nprotocol = \"udp\"\nports = [53]\n",
                  files);
    expect_ok(r);
    const Intent& in = *r.intent;
    CHECK(in.site.uplinks.size() == 2);
    CHECK_FALSE(in.site.failover);
    CHECK(in.site.nat.public_address->str() == "203.0.113.5");
    CHECK(in.vlans[0].id == 20);
    CHECK(in.vlans[0].interface == "lan0.20");
    const Group& g = in.groups.at(0);
    CHECK(g.tunnel_subnet.str() == "100.100.0.0/16");
    CHECK(g.table == 300);
    CHECK(g.rule_priority == 7050);
    CHECK(g.transport == Transport::xfrm);
    CHECK(g.interface == "tun-corp");
    CHECK(g.listen_port == 4500);
    CHECK(g.public_port == 14500);
    CHECK(g.keepalive_seconds == 60);
    CHECK(g.registries.at(1).endpoint.port == 9000);
    CHECK(g.exit_hubs == std::vector<std::string>{"ny"});
    CHECK(g.advertise.at(0).str() == "10.99.0.0/16");
    CHECK(g.tunnel_address->str() == "100.100.0.1");
    const Member& ny = g.members.at(0);
    CHECK(ny.public_key == pub(1));
    CHECK(ny.contact->str() == "198.51.100.2:4500");
    CHECK(ny.tunnel_address->str() == "100.100.0.2");
    CHECK(g.members.at(1).exit_hubs == std::vector<std::string>{"ny"});
    const Member& br = g.members.at(2);
    CHECK(br.role == Role::spoke);
    REQUIRE(br.hubs.size() == 2);
    CHECK(br.hubs[0].default_route);
    CHECK_FALSE(br.hubs[1].default_route);
    const IpsecTunnel& t = in.ipsec.at(0);
    CHECK_FALSE(t.enabled);
    CHECK(t.type == IpsecTunnelType::route);
    CHECK(t.uplink == "wan1");
    CHECK(t.local_address->str() == "203.0.113.5");
    CHECK(t.local_id == "hq.example.com");
    CHECK(t.remote_id == "gw.example.com");
    CHECK_FALSE(t.initiator);
    CHECK(t.ike_lifetime == 4h);
    CHECK(t.child_lifetime == 30min);
    CHECK_FALSE(t.rekey);
    CHECK(t.reauth);
    CHECK(t.dpd_action == DpdAction::clear);
    CHECK(t.dpd_delay == 20s);
    CHECK(t.ike_proposals.at(0) == "aes256-sha256-modp2048");
    CHECK(t.esp_proposals.at(0) == "aes128gcm16");
    CHECK(t.if_id == 0x41560010u);
    CHECK(t.interface == "ipsec-gw");
    CHECK(t.client_vpn);
    CHECK(in.firewall.at(0).ports == std::vector<uint16_t>{53});
}
