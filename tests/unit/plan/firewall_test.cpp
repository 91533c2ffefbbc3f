// The firewall planner (docs/firewall.md): packets walked through the
// planned table inet avpn (firewall_walk.hpp), and the table's size.
#include <doctest/doctest.h>

#include "firewall_walk.hpp"
#include "helpers.hpp"
#include "orchestrator/plan/firewall_json.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// hq (hub, 10.1.0.0/16 and 2001:db8:1::/48) with spokes b1 and b2.
World hq_world() {
    World w;
    w.hub("hq", {P("10.1.0.0/16"), P("2001:db8:1::/48")});
    w.spoke("b1", {"hq"}, {P("10.2.0.0/16")});
    w.spoke("b2", {"hq"}, {P("10.3.0.0/16"), P("2001:db8:3::/48")});
    return w;
}

PlanOutcome plan_with(const World& w, const std::string& site, std::vector<FwRule> rules) {
    Intent in = w.intent_for(site);
    in.firewall = std::move(rules);
    return plan(in, w.inputs_for(site));
}

Packet pkt(const char* src, const char* dst, const char* proto = "tcp", uint16_t dport = 0, bool est = false) {
    return {A(src), A(dst), proto, dport, est};
}

void expect(const fw::FirewallTable& t, const Packet& p, Fate fate, const std::string& counter = "") {
    Walked got = walk(t, p);
    INFO(p.src.str(), " -> ", p.dst.str(), " ", p.protocol, " ", p.dport);
    CHECK(got.fate == fate);
    CHECK(got.counter == counter);
}

// `out` has exactly one error, at `where`, whose reason says `why`.
void expect_one_error(const PlanOutcome& out, const std::string& where, const std::string& why) {
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].where == where);
    CHECK(out.errors[0].why.find(why) != std::string::npos);
}

IpAddr tunnel_of(const DesiredState& s, const std::string& site) { return peer(s, site)->tunnel_address; }

}  // namespace

TEST_CASE("rules in file order, first match wins; every ref kind; replies pass; the rest is dropped") {
    auto out = plan_with(hq_world(), "hq",
                         {rule(FwAction::deny, "vlan:vlan0", "site:b1", "tcp", {22}),
                          rule(FwAction::allow, "vlan:vlan0", "site:b1", "tcp", {443, 22}),
                          rule(FwAction::allow, "site:b2", "any", "icmp"),
                          rule(FwAction::allow, "vlan:vlan0", "10.3.5.0/24", "udp", {53})});
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.firewall);
    const fw::FirewallTable& t = *out.state.firewall;
    CHECK(t.counters == std::vector<std::string>{"rule-1", "rule-2", "rule-3", "rule-4", "default-drop"});
    expect(t, pkt("10.1.0.5", "10.2.0.9", "tcp", 22), Fate::dropped, "rule-1");  // deny before allow wins
    expect(t, pkt("10.1.0.5", "10.2.0.9", "tcp", 443), Fate::accepted, "rule-2");
    expect(t, pkt("10.1.0.5", "10.2.0.9", "tcp", 80), Fate::dropped, "default-drop");
    expect(t, pkt("10.1.0.5", "10.2.0.9", "udp", 443), Fate::dropped, "default-drop");
    // The other direction is another rule's business; replies pass.
    expect(t, pkt("10.2.0.9", "10.1.0.5", "tcp", 443), Fate::dropped, "default-drop");
    expect(t, pkt("10.2.0.9", "10.1.0.5", "tcp", 51000, true), Fate::accepted);
    // site: is the member's exports and its tunnel address, both families.
    expect(t, pkt("10.3.0.1", "10.1.0.1", "icmp"), Fate::accepted, "rule-3");
    expect(t, pkt("2001:db8:3::1", "2001:db8:1::1", "ipv6-icmp"), Fate::accepted, "rule-3");
    expect(t, {tunnel_of(out.state, "b2"), A("10.1.0.1"), "icmp"}, Fate::accepted, "rule-3");
    expect(t, pkt("10.2.0.1", "10.1.0.1", "icmp"), Fate::dropped, "default-drop");
    // A literal prefix is exactly that prefix.
    expect(t, pkt("10.1.0.5", "10.3.5.9", "udp", 53), Fate::accepted, "rule-4");
    expect(t, pkt("10.1.0.5", "10.3.6.9", "udp", 53), Fate::dropped, "default-drop");
}

TEST_CASE("traffic that is not between a local VLAN and a peer is not touched: relay, internet, local") {
    auto out = plan_with(hq_world(), "hq", {});
    REQUIRE(out.ok());
    const fw::FirewallTable& t = *out.state.firewall;
    expect(t, pkt("10.2.0.9", "10.3.0.9"), Fate::untouched);            // b1 -> b2 relayed by the hub
    expect(t, pkt("2001:db8:3::1", "2001:db8:3::2"), Fate::untouched);  // inside one peer
    expect(t, pkt("10.1.0.5", "192.0.2.80"), Fate::untouched);          // a local VLAN to the internet
    expect(t, pkt("192.0.2.80", "10.2.0.9"), Fate::untouched);
}

TEST_CASE("no [[firewall]] rules: no implicit allow, only replies and the default drop") {
    auto out = plan_with(hq_world(), "hq", {});
    REQUIRE(out.ok());
    const fw::FirewallTable& t = *out.state.firewall;
    CHECK(t.counters == std::vector<std::string>{"default-drop"});
    REQUIRE(t.rules.size() == 4);  // established and the default drop, per family
    for (const fw::Rule& r : t.rules) CHECK((r.established ? r.verdict == fw::Verdict::accept : r.counter == "default-drop"));
    expect(t, pkt("10.1.0.5", "10.2.0.9", "icmp"), Fate::dropped, "default-drop");
    expect(t, pkt("10.2.0.9", "10.1.0.5", "icmp"), Fate::dropped, "default-drop");
    expect(t, pkt("2001:db8:1::5", "2001:db8:3::9", "tcp", 22), Fate::dropped, "default-drop");
    expect(t, pkt("10.2.0.9", "10.1.0.5", "tcp", 22, true), Fate::accepted);
}

TEST_CASE("a spoke: peer prefixes are every member's, not only its hub's; site: of a spoke it has no tunnel to") {
    auto out = plan_with(hq_world(), "b1", {rule(FwAction::allow, "site:b2", "vlan:vlan0")});
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    const fw::FirewallTable& t = *out.state.firewall;
    expect(t, pkt("10.3.0.7", "10.2.0.1"), Fate::accepted, "rule-1");  // relayed to b1 by hq
    expect(t, pkt("10.1.0.7", "10.2.0.1"), Fate::dropped, "default-drop");
}

TEST_CASE("families: a rule exists only in the families both its sides have; none is an error") {
    auto out = plan_with(hq_world(), "hq",
                         {rule(FwAction::allow, "vlan:vlan1", "any", "icmp"),      // v6 VLAN: v6 only
                          rule(FwAction::allow, "any", "any", "tcp", {22}),        // both
                          rule(FwAction::allow, "vlan:vlan1", "site:b1", "any", {}, 42)});  // b1 has no v6
    expect_one_error(out, "site.toml:42:1 firewall[2].to", "share no address family");
    REQUIRE(out.state.firewall);
    const fw::FirewallTable& t = *out.state.firewall;
    size_t r1 = 0, r2 = 0;
    for (const fw::Rule& r : t.rules) {
        if (r.counter == "rule-1") {
            ++r1;
            CHECK(r.family == Family::v6);
            CHECK(r.protocol == "ipv6-icmp");
        }
        if (r.counter == "rule-2") ++r2;
    }
    CHECK(r1 == 1);
    CHECK(r2 == 2);
}

TEST_CASE("site: naming no member of this site's groups is an error at the rule") {
    auto out = plan_with(hq_world(), "hq", {rule(FwAction::allow, "vlan:vlan0", "site:nobody", "any", {}, 7)});
    expect_one_error(out, "site.toml:7:1 firewall[0].to", "\"nobody\"");
}

TEST_CASE("the rule count does not grow with the members; the sets do") {
    const std::vector<FwRule> rules = {rule(FwAction::allow, "vlan:vlan0", "any", "tcp", {443}),
                                       rule(FwAction::deny, "site:s3", "vlan:vlan0"),
                                       rule(FwAction::allow, "any", "vlan:vlan0", "icmp")};
    auto small = plan_with(hub_and_spokes(10, 2, Transport::wireguard), "hub", rules);
    auto big = plan_with(hub_and_spokes(2000, 2, Transport::wireguard), "hub", rules);
    REQUIRE(small.ok());
    REQUIRE(big.ok());
    const fw::FirewallTable& a = *small.state.firewall;
    const fw::FirewallTable& b = *big.state.firewall;
    CHECK(a.forward.size() == b.forward.size());
    CHECK(a.rules.size() == b.rules.size());
    CHECK(a.counters == b.counters);
    auto set = [](const fw::FirewallTable& t, const char* name) {
        for (const fw::Set& s : t.sets)
            if (s.name == name) return s.elements.size();
        return size_t(0);
    };
    CHECK(set(a, "peers-4") == 10 * 3);  // two /24s and a tunnel address per spoke
    CHECK(set(b, "peers-4") == 2000 * 3);
    CHECK(set(b, "site-s3-4") == 3);
    // A /24 of a spoke and the hub's /16 never share an element: none is inside another.
    expect(b, pkt("10.255.0.1", "10.0.0.1", "tcp", 443), Fate::accepted, "rule-1");
}

TEST_CASE("set elements: sorted, and one inside another is folded into it (interval sets refuse overlaps)") {
    World w = hq_world();
    w.site("hq").local_only = {P("10.1.2.0/24"), P("10.9.0.0/24")};  // the first inside vlan0's 10.1.0.0/16
    auto out = plan_with(w, "hq", {rule(FwAction::allow, "vlan:vlan0", "site:b1")});
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    for (const fw::Set& s : out.state.firewall->sets) {
        CHECK(std::is_sorted(s.elements.begin(), s.elements.end()));
        for (size_t i = 1; i < s.elements.size(); ++i) CHECK(!s.elements[i - 1].overlaps(s.elements[i]));
        if (s.name == "local-4") CHECK(s.elements == std::vector<Prefix>{P("10.1.0.0/16"), P("10.9.0.0/24")});
        if (s.name == "site-b1-4") CHECK(s.elements.size() == 2);  // its /16 and its tunnel address
    }
}

TEST_CASE("a prefix outside every local VLAN and peer prefix is an error: the rule could never match") {
    auto out = plan_with(hq_world(), "hq", {rule(FwAction::allow, "172.31.0.0/16", "vlan:vlan0", "any", {}, 9)});
    expect_one_error(out, "site.toml:9:1 firewall[0].from", "never match");
}

TEST_CASE("a site whose role is off plans no table") {
    World w = hq_world();
    w.site("b1").role = Role::off;
    auto out = plan_with(w, "b1", {});
    CHECK(!out.state.firewall);
}

TEST_CASE("rule text reads like nft's own listing") {
    fw::Rule r;
    r.family = Family::v4;
    r.saddr = fw::AddrMatch{"vlan-Corp-4", {}};
    r.daddr = fw::AddrMatch{"", P("10.3.5.0/24")};
    r.protocol = "tcp";
    r.dports = {22, 443};
    r.counter = "rule-2";
    CHECK(fw::rule_text(r) ==
          "ip saddr @vlan-Corp-4 ip daddr 10.3.5.0/24 meta l4proto tcp tcp dport { 22, 443 } counter name \"rule-2\" accept");
}
