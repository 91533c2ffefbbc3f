// The shortcut watch (issue 14, docs/firewall.md "The shortcut watch") in a
// real kernel: a spoke's planned table inet avpn, installed through the
// apply's firewall domain (runtime::install_firewall, NftTable), while this
// test's namespace forwards pings between a host behind the spoke's VLAN
// and a namespace standing for the tunnels (every peer prefix routed
// there). The counters are read as avpnd reads them
// (runtime::read_shortcut_counters, one nfnetlink dump).
#include <doctest/doctest.h>

#include <string>

#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/runtime/firewall_apply.hpp"
#include "orchestrator/runtime/shortcut_counters.hpp"
#include "plugins/firewall/nft_table.hpp"
#include "tests/netns/netlink_fixture.hpp"
#include "tests/unit/plan/world.hpp"

// Failed checks print the counts.
namespace doctest {
template <>
struct StringMaker<std::map<std::string, uint64_t>> {
    static String convert(const std::map<std::string, uint64_t>& m) {
        std::string s = "{";
        for (const auto& [k, v] : m) s += " " + k + "=" + std::to_string(v);
        return (s + " }").c_str();
    }
};
}  // namespace doctest

using namespace avpn;
using avpn::nl::netns::must;
using avpn::nl::netns::sh;
using avpn::nl::netns::skip_unless;
using avpn::test::A;
using avpn::test::P;

namespace {

using Packets = std::map<std::string, uint64_t>;

const char* kLan = "avpn-sw-lan";  // 10.1.0.2, 2001:db8:1::2: a host on spoke a's VLAN
const char* kFar = "avpn-sw-far";  // every other site's prefixes: the tunnels' side

// The namespaces go with the test case, also when a REQUIRE ends it.
struct Topology {
    Topology() {
        clear();
        must(std::string("ip netns add ") + kLan + " && ip netns add " + kFar);
        must(std::string("ip link add swlan type veth peer name eth0 netns ") + kLan);
        must(std::string("ip link add swfar type veth peer name eth0 netns ") + kFar);
        must("ip addr add 10.1.0.1/24 dev swlan && ip -6 addr add 2001:db8:1::1/64 dev swlan nodad && "
             "ip link set swlan up");
        must("ip addr add 192.0.2.1/30 dev swfar && ip -6 addr add 2001:db8:ff::1/64 dev swfar nodad && "
             "ip link set swfar up");
        in(kLan, "ip addr add 10.1.0.2/24 dev eth0 && ip -6 addr add 2001:db8:1::2/64 dev eth0 nodad && "
                 "ip link set eth0 up && ip route add default via 10.1.0.1 && ip -6 route add default via 2001:db8:1::1");
        // b: 10.2.0.2, 2001:db8:2::2, its tunnel address 100.64.0.20; f:
        // 10.6.0.2; c (watched by nobody here): 10.3.0.2.
        in(kFar, "ip addr add 192.0.2.2/30 dev eth0 && ip -6 addr add 2001:db8:ff::2/64 dev eth0 nodad && "
                 "ip link set eth0 up && ip link set lo up && ip route add default via 192.0.2.1 && "
                 "ip -6 route add default via 2001:db8:ff::1");
        for (const char* a : {"10.2.0.2/32", "100.64.0.20/32", "10.6.0.2/32", "10.3.0.2/32"})
            in(kFar, std::string("ip addr add ") + a + " dev lo");
        in(kFar, "ip -6 addr add 2001:db8:2::2/128 dev lo nodad");
        for (const char* p : {"10.2.0.0/24", "100.64.0.0/10", "10.6.0.0/24", "10.3.0.0/24"})
            must(std::string("ip route add ") + p + " via 192.0.2.2");
        must("ip -6 route add 2001:db8:2::/64 via 2001:db8:ff::2");
        must("sysctl -qw net.ipv4.ip_forward=1 && sysctl -qw net.ipv6.conf.all.forwarding=1");
        // Until both families pass (IPv6's first packets can be lost while
        // the new links' neighbours settle), before any table is there to
        // count them; the checks then count every packet exactly.
        for (const char* dst : {"10.2.0.2", "2001:db8:2::2"})
            must(std::string("ip netns exec ") + kLan + " ping -q -c 1 -i 0.2 -w 5 " + dst);
    }
    ~Topology() { clear(); }
    // The veths first: a deleted namespace goes (with its ends) only once
    // the kernel gets to it, and the next case makes them again at once.
    static void clear() {
        sh(std::string("ip link del swlan 2>/dev/null; ip link del swfar 2>/dev/null; ip netns del ") + kLan +
           " 2>/dev/null; ip netns del " + kFar + " 2>/dev/null");
    }
    static void in(const char* ns, const std::string& cmd) {
        must(std::string("ip netns exec ") + ns + " sh -c '" + cmd + "'");
    }
};

// `count` echo requests from `ns` to `dst` (from address `src`, else the
// one the route picks), every one answered: ping fails when any is lost.
void ping(const char* ns, const char* dst, int count, const char* src = nullptr) {
    int rc = 0;
    std::string cmd = std::string("ip netns exec ") + ns + " ping -q -c " + std::to_string(count) + " -i 0.1 -W 2 " +
                      (src ? std::string("-I ") + src + " " : "") + dst;
    std::string out = sh(cmd, &rc);
    REQUIRE_MESSAGE(rc == 0, cmd, ": ", out);
    const std::string all = std::to_string(count) + " received";
    REQUIRE_MESSAGE(out.find(all) != std::string::npos, cmd, ": ", out);
}

// Hubs h1, h2 and h9 (off); spoke a [h1] exports 10.1.0.0/24 and
// 2001:db8:1::/64 (this namespace); b [h1] and f [h1] share h1 with it, c
// [h9] reaches no active hub, so no traffic of a's can reach it.
// a's rules let its VLAN and the group talk, so pings are answered.
test::World spokes() {
    test::World w;
    w.group.shortcuts = true;
    w.hub("h1", {P("10.101.0.0/16")});
    w.hub("h2", {P("10.102.0.0/16")});
    w.hub("h9", {P("10.109.0.0/16")}).role = Role::off;
    w.spoke("a", {"h1"}, {P("10.1.0.0/24"), P("2001:db8:1::/64")});
    w.spoke("b", {"h1"}, {P("10.2.0.0/24"), P("2001:db8:2::/64")}).pinned = A("100.64.0.20");
    w.spoke("f", {"h1"}, {P("10.6.0.0/24")});
    w.spoke("c", {"h9"}, {P("10.3.0.0/24")});
    return w;
}

fw::FirewallTable planned(const test::World& w) {
    Intent in = w.intent_for("a");
    auto allow = [](const char* from, const char* to, int line) {
        FwRule r;
        r.from = from;
        r.to = to;
        r.loc = {"site.toml", line, 1};
        return r;
    };
    in.firewall = {allow("vlan:vlan0", "any", 1), allow("any", "vlan:vlan0", 2), allow("vlan:vlan1", "any", 3),
                   allow("any", "vlan:vlan1", 4)};
    PlanOutcome p = plan(in, w.inputs_for("a"));
    std::string errors;
    for (const Error& e : p.errors) errors += e.str() + "\n";
    REQUIRE_MESSAGE(p.ok(), errors);
    REQUIRE(p.state.firewall);
    return *p.state.firewall;
}

std::unique_ptr<fw::NftTable> open_table() {
    skip_unless("nft list ruleset", "", "the nft command (package nftables)");
    skip_unless("ping -V", "", "ping (package iputils-ping)");
    must("nft flush ruleset");
    auto t = fw::NftTable::open();
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? std::string() : t.error().str()));
    return std::move(*t);
}

Packets read(fw::TablePort& table, const std::vector<fw::ShortcutWatch>& watch) {
    auto r = runtime::read_shortcut_counters(table, watch);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().str()));
    return *r;
}

}  // namespace

TEST_CASE("forwarded packets to and from a watched spoke count on its counter, and on no other") {
    auto table = open_table();
    Topology topology;
    const fw::FirewallTable want = planned(spokes());
    REQUIRE(want.shortcut_watch.size() == 2);  // b and f; c reaches no hub
    runtime::FirewallOutcome first = runtime::install_firewall(*table, want, "", false);
    REQUIRE_MESSAGE(!first.failure, first.failure->str());
    REQUIRE(first.replaced);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 0}, {"shortcut-corp/f", 0}});

    ping(kLan, "10.2.0.2", 3);        // to b: 3 requests (daddr) and 3 replies (saddr)
    ping(kFar, "10.1.0.2", 2, "10.2.0.2");  // from b's VLAN: 2 + 2, the other way round
    ping(kLan, "100.64.0.20", 1);     // b's tunnel address: 1 + 1
    ping(kLan, "2001:db8:2::2", 2);   // IPv6, the other map: 2 + 2 (16 in all)
    ping(kLan, "10.3.0.2", 2);        // c: watched by nobody
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 16}, {"shortcut-corp/f", 0}});
    ping(kLan, "10.6.0.2", 1);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 16}, {"shortcut-corp/f", 2}});
    // The rules below still decide: the allow rules let every ping through
    // (must() above), nothing reached the default drop.
    auto all = table->counters();
    REQUIRE(all.ok());
    CHECK(all->at("rule-1").packets > 0);
    CHECK(all->at("default-drop").packets == 0);

    // The same plan again: not rewritten, the counts run on.
    runtime::FirewallOutcome again = runtime::install_firewall(*table, want, first.applied_text, false);
    REQUIRE(!again.failure);
    CHECK(again.unchanged);
    CHECK(read(*table, want.shortcut_watch).at("shortcut-corp/b") == 16);

    // f leaves: the table is replaced, f's counter and map element go, b's
    // counter starts again from 0 (a replace zeroes them all).
    test::World w = spokes();
    w.site("f").role = Role::off;
    const fw::FirewallTable fewer = planned(w);
    REQUIRE(fewer.shortcut_watch.size() == 1);
    runtime::FirewallOutcome second = runtime::install_firewall(*table, fewer, again.applied_text, false);
    REQUIRE(!second.failure);
    CHECK(second.replaced);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 0}});  // f's is gone
    CHECK(sh("nft list map inet avpn shortcut-v4").find("10.6.0.0") == std::string::npos);
    ping(kLan, "10.6.0.2", 1);
    ping(kLan, "10.2.0.2", 1);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 2}});

    // The undo puts the table with f back from nft's own listing, counts
    // included: maps and counter-map rules survive that round trip.
    runtime::undo_firewall(*table, second);
    REQUIRE(!second.undo_failure);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 16}, {"shortcut-corp/f", 2}});
    ping(kLan, "10.6.0.2", 1);
    CHECK(read(*table, want.shortcut_watch) == Packets{{"shortcut-corp/b", 16}, {"shortcut-corp/f", 4}});
}

TEST_CASE("a table with only the watch forwards everything and counts") {
    auto table = open_table();
    Topology topology;
    fw::FirewallTable t;  // no sets, no rules: the chains' policies accept
    t.shortcut_watch = {{"shortcut-corp/b", "corp", "b", {P("10.2.0.0/24"), P("2001:db8:2::/64")}}};
    auto st = table->replace(fw::render_firewall_json(t));
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().str()));
    ping(kLan, "10.2.0.2", 2);
    ping(kFar, "10.1.0.2", 1, "10.2.0.2");
    ping(kLan, "2001:db8:2::2", 1);
    ping(kLan, "10.6.0.2", 1);  // not watched, forwarded all the same
    CHECK(read(*table, t.shortcut_watch) == Packets{{"shortcut-corp/b", 8}});
}

TEST_CASE("no watch: nothing is asked of the kernel") {
    auto table = open_table();
    CHECK(read(*table, {}).empty());
}
