// plugins/firewall's NftTable against the kernel's nftables, in this test's
// own network namespace: replace, its atomicity, the ownership check, the
// operator's tables left byte for byte, counters fed by forwarded pings,
// remove. The operator's tables are made with nft itself, as an operator would.
#include <doctest/doctest.h>

#include <string>

#include "netlink/nft_gen.hpp"
#include "plugins/firewall/nft_table.hpp"
#include "tests/netns/netlink_fixture.hpp"

using namespace avpn;
using avpn::nl::netns::must;
using avpn::nl::netns::sh;
using avpn::nl::netns::skip_unless;

namespace {

void require_ok(const Status& st) { REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().str())); }

std::unique_ptr<fw::NftTable> open_table() {
    skip_unless("nft list ruleset", "", "the nft command (package nftables)");
    skip_unless("jq --version", "", "jq");
    // Test cases share this process's namespace: each starts from nothing.
    must("nft flush ruleset");
    auto t = fw::NftTable::open();
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? std::string() : t.error().str()));
    return std::move(*t);
}

// The operator's own ruleset: two tables of two families, with a set,
// base chains, rules and an anonymous counter.
void add_operator_tables() {
    // As one argument: nft reads a whole ruleset from its command line.
    must(R"(nft '
table inet filter {
    set trusted { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.1.0/24 }; }
    chain input { type filter hook input priority 0; policy accept; ip saddr @trusted counter accept; }
    chain forward { type filter hook forward priority 0; policy accept; tcp dport 22 drop; }
}
table ip nat {
    chain postrouting { type nat hook postrouting priority 100; oifname "veth9" masquerade; }
}')");
}

// Everything nft lists except table inet avpn and what is in it, as text.
std::string others() {
    int rc = 0;
    std::string out = sh("nft -j list ruleset | jq -c '.nftables | map(select(to_entries[0] as $e | "
                         "($e.value.family == \"inet\" and ($e.value.table == \"avpn\" or "
                         "($e.key == \"table\" and $e.value.name == \"avpn\"))) | not))'",
                         &rc);
    REQUIRE_MESSAGE(rc == 0, out);
    return out;
}

std::string avpn_table_text() { return sh("nft list table inet avpn"); }

// A forward base chain at priority -10 that jumps to a regular chain; a set
// with a prefix and a range; named counters on a drop rule and a count rule.
std::string contents(const std::string& blocked_elems, const std::string& count_match) {
    return R"([
 {"add": {"set": {"family": "inet", "table": "avpn", "name": "blocked", "type": "ipv4_addr",
                  "flags": ["interval"], "elem": [)" +
           blocked_elems + R"(]}}},
 {"add": {"counter": {"family": "inet", "table": "avpn", "name": "blocked_drops"}}},
 {"add": {"counter": {"family": "inet", "table": "avpn", "name": "forwarded"}}},
 {"add": {"chain": {"family": "inet", "table": "avpn", "name": "forward", "type": "filter",
                    "hook": "forward", "prio": -10, "policy": "accept"}}},
 {"add": {"chain": {"family": "inet", "table": "avpn", "name": "site_rules"}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "forward",
                   "expr": [{"jump": {"target": "site_rules"}}]}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "site_rules", "expr": [
     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@blocked"}},
     {"counter": "blocked_drops"}, {"drop": null}]}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "site_rules", "expr": [)" +
           count_match + R"({"counter": "forwarded"}]}}}
])";
}

const std::string kFirst = contents(R"({"prefix": {"addr": "198.51.100.0", "len": 24}},
                                       {"range": ["203.0.113.10", "203.0.113.20"]})",
                                    "");

// Different contents: another set element, one chain fewer, another counter.
const std::string kSecond = R"([
 {"add": {"set": {"family": "inet", "table": "avpn", "name": "allowed", "type": "ipv4_addr",
                  "flags": ["interval"], "elem": [{"prefix": {"addr": "192.0.2.0", "len": 25}}]}}},
 {"add": {"counter": {"family": "inet", "table": "avpn", "name": "allowed_hits"}}},
 {"add": {"chain": {"family": "inet", "table": "avpn", "name": "fwd", "type": "filter",
                    "hook": "forward", "prio": -10, "policy": "accept"}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "fwd", "expr": [
     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@allowed"}},
     {"counter": "allowed_hits"}, {"accept": null}]}}}
])";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("replace makes table inet avpn the contents, and a second replace the new contents only") {
    auto t = open_table();
    CHECK(*t->present() == false);
    require_ok(t->replace(kFirst));
    CHECK(*t->present() == true);
    std::string first = sh("nft -j list table inet avpn");
    for (const char* part : {R"("name": "blocked")", R"("type": "ipv4_addr")", R"("interval")",
                             R"("prefix": {"addr": "198.51.100.0", "len": 24})",
                             R"("range": ["203.0.113.10", "203.0.113.20"])", R"("name": "blocked_drops")",
                             R"("name": "forwarded")", R"("hook": "forward", "prio": -10)",
                             R"("name": "site_rules")", R"("jump": {"target": "site_rules"})",
                             R"("right": "@blocked")", R"({"counter": "blocked_drops"})", R"({"drop": null})"})
        CHECK_MESSAGE(has(first, part), part, " not in ", first);
    auto read = t->read();
    REQUIRE(read.ok());
    CHECK(has(*read, R"("name": "site_rules")"));

    require_ok(t->replace(kSecond));
    std::string second = sh("nft -j list table inet avpn");
    for (const char* gone : {"blocked", "forwarded", "site_rules", R"("name": "forward")", "203.0.113"})
        CHECK_MESSAGE(!has(second, gone), gone, " still in ", second);
    for (const char* part : {R"("name": "allowed")", R"("prefix": {"addr": "192.0.2.0", "len": 25})",
                             R"("name": "allowed_hits")", R"("name": "fwd")", R"({"accept": null})"})
        CHECK_MESSAGE(has(second, part), part, " not in ", second);
    // One table inet avpn, not a second one beside the first.
    CHECK(sh("nft list tables | grep -c 'table inet avpn'") == "1\n");
}

TEST_CASE("the operator's tables are the same, byte for byte, after replace, a failed replace and remove") {
    auto t = open_table();
    add_operator_tables();
    std::string before = others();
    REQUIRE(has(before, R"("name":"trusted")"));
    REQUIRE(has(before, R"("masquerade")"));
    require_ok(t->replace(kFirst));
    CHECK(others() == before);
    require_ok(t->replace(kSecond));
    CHECK(others() == before);
    CHECK_FALSE(t->replace(R"([{"add": {"rule": {"family": "inet", "table": "avpn", "chain": "fwd", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@nosuch"}},
        {"drop": null}]}}}])")
                     .ok());
    CHECK(others() == before);
    require_ok(t->remove());
    CHECK(others() == before);
    CHECK(*t->present() == false);
}

TEST_CASE("a replace the kernel refuses leaves the previous table exactly as it was") {
    auto t = open_table();
    require_ok(t->replace(kFirst));
    std::string before = avpn_table_text();
    std::string before_json = sh("nft -j list table inet avpn");

    SUBCASE("a jump loop, which only the kernel's commit finds (ELOOP)") {
        std::string looped = kSecond;
        looped.pop_back();  // the closing bracket
        looped += R"(, {"add": {"chain": {"family": "inet", "table": "avpn", "name": "a"}}},
 {"add": {"chain": {"family": "inet", "table": "avpn", "name": "b"}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "fwd", "expr": [{"jump": {"target": "a"}}]}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "a", "expr": [{"jump": {"target": "b"}}]}}},
 {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "b", "expr": [{"jump": {"target": "a"}}]}}}])";
        auto st = t->replace(looped);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().what == "replace nftables table");
        CHECK_MESSAGE(has(st.error().why, "Too many links"), st.error().str());
    }
    SUBCASE("a rule using a set the table does not have") {
        std::string missing = kSecond;
        missing.pop_back();
        missing += R"(, {"add": {"rule": {"family": "inet", "table": "avpn", "chain": "fwd", "expr": [
     {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@nosuch"}},
     {"drop": null}]}}}])";
        auto failed = t->replace(missing);
        REQUIRE_FALSE(failed.ok());
        CHECK(failed.error().what == "replace nftables table");
        CHECK_MESSAGE(has(failed.error().why, "No such file or directory"), failed.error().str());
    }
    SUBCASE("a set element of the wrong type") {
        auto st = t->replace(contents(R"("2001:db8::1")", ""));
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().what == "replace nftables table");
        CHECK_MESSAGE(has(st.error().why, "Error:"), st.error().str());
    }
    CHECK(avpn_table_text() == before);
    CHECK(sh("nft -j list table inet avpn") == before_json);
}

TEST_CASE("contents naming another table, another family, delete or flush are refused and change nothing") {
    auto t = open_table();
    add_operator_tables();
    require_ok(t->replace(kFirst));
    std::string ruleset = sh("nft -j list ruleset");
    struct Case {
        const char* contents;
        const char* named;
    } cases[] = {
        {R"([{"add": {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [{"drop": null}]}}}])",
         "command 0 (add rule inet filter input)"},
        {R"([{"add": {"chain": {"family": "ip", "table": "avpn", "name": "c"}}}])", "command 0 (add chain ip avpn c)"},
        {R"([{"add": {"counter": {"family": "inet", "table": "avpn", "name": "c"}}}, {"flush": {"ruleset": null}}])",
         "command 1 (flush ruleset)"},
        {R"([{"delete": {"table": {"family": "ip", "name": "nat"}}}])", "command 0 (delete table ip nat)"},
        {R"([{"add": {"table": {"family": "inet", "name": "filter"}}}])", "command 0 (add table inet filter)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.contents);
        auto st = t->replace(c.contents);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().what == "firewall contents refused");
        CHECK(st.error().where == c.named);
        CHECK(sh("nft -j list ruleset") == ruleset);
    }
}

TEST_CASE("counters count forwarded pings, and the drop rule's counter the dropped ones") {
    auto t = open_table();
    // a (10.77.1.2) -- this namespace, forwarding -- b (10.77.2.2, 10.77.2.3)
    struct Guard {
        ~Guard() { sh("ip netns del avpn-fw-a 2>/dev/null; ip netns del avpn-fw-b"); }
    } guard;
    sh("ip netns del avpn-fw-a 2>/dev/null; ip netns del avpn-fw-b");
    must("ip netns add avpn-fw-a && ip netns add avpn-fw-b");
    must("ip link add fwa type veth peer name eth0 netns avpn-fw-a");
    must("ip link add fwb type veth peer name eth0 netns avpn-fw-b");
    must("ip addr add 10.77.1.1/24 dev fwa && ip link set fwa up");
    must("ip addr add 10.77.2.1/24 dev fwb && ip link set fwb up");
    must("ip -n avpn-fw-a addr add 10.77.1.2/24 dev eth0 && ip -n avpn-fw-a link set eth0 up && "
         "ip -n avpn-fw-a route add default via 10.77.1.1");
    must("ip -n avpn-fw-b addr add 10.77.2.2/24 dev eth0 && ip -n avpn-fw-b addr add 10.77.2.3/24 dev eth0 && "
         "ip -n avpn-fw-b link set eth0 up && ip -n avpn-fw-b route add default via 10.77.2.1");
    must("sysctl -qw net.ipv4.ip_forward=1");

    // 10.77.2.3 is blocked; only echo requests to 10.77.2.2 are counted as forwarded.
    std::string counted = R"({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                                        "right": "10.77.2.2"}},)";
    require_ok(t->replace(contents(R"("10.77.2.3")", counted)));
    auto zero = t->counters();
    REQUIRE(zero.ok());
    CHECK(*zero == fw::Counters{{"blocked_drops", {0, 0}}, {"forwarded", {0, 0}}});

    must("ip netns exec avpn-fw-a ping -c 3 -i 0.2 -W 2 10.77.2.2");
    int rc = 0;
    std::string out = sh("ip netns exec avpn-fw-a ping -c 2 -i 0.2 -W 1 10.77.2.3", &rc);
    CHECK_MESSAGE(rc != 0, "a blocked address answered: ", out);

    auto after = t->counters();
    REQUIRE(after.ok());
    // An echo request of ping's default 56 bytes is an 84-byte IPv4 packet.
    CHECK(after->at("forwarded") == fw::CounterValue{3, 3 * 84});
    CHECK(after->at("blocked_drops") == fw::CounterValue{2, 2 * 84});
}

TEST_CASE("remove deletes table inet avpn only, and twice is fine") {
    auto t = open_table();
    add_operator_tables();
    std::string before = others();
    CHECK(t->remove().ok());  // nothing there yet
    require_ok(t->replace(kFirst));
    require_ok(t->remove());
    CHECK(*t->present() == false);
    CHECK(!has(sh("nft list ruleset"), "avpn"));
    CHECK(t->remove().ok());
    CHECK(others() == before);
    // No table, no counters (the kernel's dump filtered by table is empty).
    auto c = t->counters();
    REQUIRE(c.ok());
    CHECK(c->empty());
}

// avpnd lists table inet avpn again only when this generation moved
// (Site::firewall_drift): it must move with every change, whoever makes it,
// and stay put while nothing changes (listings, counter reads).
TEST_CASE("the nftables generation moves with every committed change and with nothing else") {
    auto t = open_table();
    auto s = nl::Socket::open(NETLINK_NETFILTER);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().str()));
    auto gen = [&] {
        auto g = nl::nftables_generation(*s);
        REQUIRE_MESSAGE(g.ok(), (g.ok() ? std::string() : g.error().str()));
        return *g;
    };
    const uint32_t g0 = gen();
    require_ok(t->replace(kFirst));
    const uint32_t g1 = gen();
    CHECK(g1 != g0);
    (void)avpn_table_text();
    REQUIRE(t->counters().ok());
    REQUIRE(t->read().ok());
    CHECK(gen() == g1);  // reads change nothing
    must("nft add element inet avpn blocked '{ 192.0.2.7 }'");  // a hand edit inside avpn's table
    const uint32_t g2 = gen();
    CHECK(g2 != g1);
    add_operator_tables();  // a change elsewhere moves it too
    CHECK(gen() != g2);
    const uint32_t g3 = gen();
    CHECK_FALSE(t->replace(kSecond + "junk").ok());  // refused before the kernel: no transaction
    CHECK(gen() == g3);
}
