// Status by site name and the metrics exposition, without a kernel:
// - [site] metrics: an IP literal and a port, errors at file:line naming
//   the field, kept apart for the one-shot to refuse;
// - peer_rows(): a spoke's hub is a direct peer with its static contact,
//   another spoke is reached via the hub that routes its exports, with the
//   tunnel address the group allocates; sorted by site name;
// - the text renderers wrap at 80 columns; JSON keeps raw values;
// - render_metrics(): text format 0.0.4 checked line by line (HELP, then
//   TYPE, then that family's samples only; label values escaped).
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <sstream>

#include "common/json.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/report/render_peers.hpp"
#include "orchestrator/runtime/load.hpp"
#include "orchestrator/runtime/metrics.hpp"
#include "orchestrator/runtime/peer_directory.hpp"
#include "tests/unit/config/fixture.hpp"

using namespace avpn;
using namespace avpn::runtime;
using namespace avpn::test;

namespace {

// Lines 1-5 kSpoke, 6-9 the VLAN, 10-13 the group, then hq (14-19, with a
// contact), paris (20-24).
std::string spoke_site(const std::string& site_extra = "") {
    return kSpoke + site_extra + "[[vlan]]\nname = \"Corp\"\nsubnet = \"10.0.1.0/24\"\nshareable = true\n" +
           "[autovpn]\ngroup = \"corp\"\npermitted_vlans = [\"Corp\"]\nhubs = [\"hq\"]\n" +
           member("hq", "hub", 1, "[\"10.1.0.0/16\", \"10.9.0.0/24\"]") + "contact = \"192.0.2.1:51820\"\n" +
           member("paris", "spoke", 2, "[\"10.2.0.0/24\"]", "[\"hq\"]");
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("[site] metrics: an IP literal and a port; only avpnd acts on it") {
    auto ok = load(kSpoke + "metrics = \"127.0.0.1:9586\"\n");
    expect_ok(ok);
    REQUIRE(ok.intent->site.metrics);
    CHECK(ok.intent->site.metrics->str() == "127.0.0.1:9586");
    auto v6 = load(kSpoke + "metrics = \"[::1]:9586\"\n");
    expect_ok(v6);
    CHECK(v6.intent->site.metrics->str() == "[::1]:9586");
    CHECK_FALSE(load(kSpoke).intent->site.metrics);

    for (const char* bad : {"localhost:9586", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536"}) {
        auto r = load(kSpoke + "metrics = \"" + bad + "\"\n");
        CAPTURE(bad);
        expect_exact(r, "site.metrics", "6:11",
                     "\"" + std::string(bad) +
                         "\" is not an endpoint: expected address:port with a port 1..65535, e.g. 192.0.2.10:51820 "
                         "or [2001:db8::1]:51820");
    }
    auto not_string = load(kSpoke + "metrics = 9586\n");
    CHECK(not_string.errors.size() == 1);
    CHECK(not_string.errors[0].what == "site.metrics");

    LoadedSite apply = loaded_site(kSiteFile, load(kSpoke + "metrics = \"127.0.0.1:9586\"\n"), LoadFor::apply);
    CHECK(apply.errors.empty());
    REQUIRE(apply.needs_daemon.size() == 1);
    CHECK(apply.needs_daemon[0].what == "site.metrics");
    CHECK(apply.needs_daemon[0].where == "/cfg/site.toml:6:11");
}

TEST_CASE("peer rows: the hub direct with its static contact, the other spoke via the hub") {
    auto r = load(spoke_site());
    expect_ok(r);
    planner::SitePieces pieces = planner::decide(*r.intent, PlanInputs{});
    REQUIRE(pieces.errors.empty());
    std::vector<PeerRow> rows = peer_rows(*r.intent, pieces);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].site == "hq");
    CHECK(rows[0].role == "hub");
    CHECK(rows[0].direct);
    CHECK(rows[0].public_key == pub(1));
    REQUIRE(rows[0].endpoint);
    CHECK(rows[0].endpoint->str() == "192.0.2.1:51820");
    CHECK(rows[0].contact == "static");
    CHECK(rows[0].exports == std::vector<Prefix>{*Prefix::parse("10.1.0.0/16"), *Prefix::parse("10.9.0.0/24")});
    CHECK(rows[1].site == "paris");
    CHECK_FALSE(rows[1].direct);
    CHECK(rows[1].via == "hq");
    CHECK_FALSE(rows[1].endpoint);
    // The same addresses the planner gives the group's members.
    const auto& alloc = *pieces.allocations.groups.at("corp");
    for (const PeerRow& row : rows) {
        REQUIRE(row.tunnel_address);
        bool found = false;
        for (size_t i = 0; i < alloc.names.size(); ++i)
            if (alloc.names[i] == row.site) found = (alloc.addresses[i] == *row.tunnel_address);
        CHECK_MESSAGE(found, row.site);
    }

    // WireGuard counters join by interface and key.
    wg::WgDeviceStatus dev;
    dev.peers.push_back(wg::WgPeerStats{pub(1), 1700000000, 0, 1234, 5678});
    std::sort(dev.peers.begin(), dev.peers.end(), [](auto& a, auto& b) { return a.public_key < b.public_key; });
    add_wireguard(rows, {{rows[0].interface, dev}});
    CHECK(rows[0].last_handshake == 1700000000);
    CHECK(rows[0].rx_bytes == 1234u);
    CHECK(rows[0].tx_bytes == 5678u);
    CHECK_FALSE(rows[1].rx_bytes);
}

TEST_CASE("peers text: one paragraph per member, every line within 80 columns; JSON keeps raw values") {
    PeerRow hub;
    hub.group = "corp";
    hub.site = "hq";
    hub.role = "hub";
    hub.transport = "wireguard";
    hub.tunnel_address = *IpAddr::parse("100.64.0.1");
    for (int i = 0; i < 30; ++i) hub.exports.push_back(*Prefix::parse("10." + std::to_string(i) + ".0.0/16"));
    hub.endpoint = Endpoint::parse("[2001:db8:1234:5678:9abc:def0:1234:5678]:51820");
    hub.contact = "static";
    hub.last_handshake = 1000;
    hub.rx_bytes = 3 * 1024 * 1024;
    hub.tx_bytes = 512;
    PeerRow spoke;
    spoke.group = "corp";
    spoke.site = "paris";
    spoke.role = "spoke";
    spoke.transport = "wireguard";
    spoke.direct = false;
    spoke.via = "hq";
    const std::string text = report::peers_text({hub, spoke}, std::nullopt, 1012);
    std::set<std::string> all;
    for (const std::string& l : lines_of(text)) {
        CHECK_MESSAGE(l.size() <= 80, l);
        all.insert(l);
    }
    CHECK(all.count("  hq (hub, corp) 100.64.0.1"));
    CHECK(all.count("    direct to [2001:db8:1234:5678:9abc:def0:1234:5678]:51820 (static contact)"));
    CHECK(all.count("    handshake 12 s ago, rx 3.0 MiB, tx 512 B"));
    CHECK(all.count("  paris (spoke, corp)"));
    CHECK(all.count("    via hq"));
    CHECK(all.count("    exports (nothing)"));
    // Every export is shown, none split.
    for (const Prefix& p : hub.exports) CHECK(text.find(" " + p.str()) != std::string::npos);

    JsonWriter w(false);
    w.begin_object();
    report::peers_json(w, {hub}, std::nullopt);
    w.end_object();
    const std::string json = w.str();
    CAPTURE(json);
    CHECK(json.find("\"last_handshake\":1000") != std::string::npos);
    CHECK(json.find("\"rx_bytes\":3145728") != std::string::npos);
    CHECK(json.find("\"up\":null") != std::string::npos);
    CHECK(json.find("\"peers_error\":null") != std::string::npos);
}

TEST_CASE("event history text wraps long lines under the first word") {
    std::vector<SiteEvent> ev{{1700000000, "apply",
                               "full apply (kernel changed by another process): 10 ops (10 created, 0 updated, 0 "
                               "removed) in 87.1 ms"}};
    const std::string text = report::events_text(ev);
    auto lines = lines_of(text);
    REQUIRE(lines.size() == 3);
    CHECK(lines[1].rfind("  22:13:20 apply: full apply", 0) == 0);
    CHECK(lines[1].size() <= 80);
    CHECK(lines[2].rfind(std::string(std::string("  22:13:20 apply: ").size(), ' '), 0) == 0);
}

TEST_CASE("label values are escaped as the exposition format says") {
    CHECK(escape_label("plain") == "plain");
    CHECK(escape_label("a\"b") == "a\\\"b");
    CHECK(escape_label("a\\b") == "a\\\\b");
    CHECK(escape_label("a\nb") == "a\\nb");
}

TEST_CASE("metrics exposition: HELP and TYPE before each family's samples, labels per peer by site name") {
    MetricsSnapshot s;
    s.site = "hq";
    s.now = 1000;
    PeerRow a;
    a.group = "corp";
    a.site = "branch1";
    a.role = "spoke";
    a.transport = "wireguard";
    a.last_handshake = 990;
    a.rx_bytes = 100;
    a.tx_bytes = 200;
    a.paths = {{"avpn-corp.p1", Endpoint{*IpAddr::parse("198.51.100.2"), 51821}, 995, 300, 400}};
    PeerRow b;  // via a hub: info only, no counters
    b.group = "corp";
    b.site = "branch2";
    b.role = "spoke";
    b.transport = "wireguard";
    b.direct = false;
    b.via = "hq\"x";  // not a valid name; shows the escaping reaches the output
    PeerRow x;
    x.group = "esp";
    x.site = "paris";
    x.role = "hub";
    x.transport = "xfrm";
    x.up = true;
    x.handshake_age = 7;
    s.peers = {a, b, x};
    s.uplinks = {{"wan0", *IpAddr::parse("192.0.2.1"), true, "", true}, {"wan1", std::nullopt, false, "carrier lost", false}};
    s.uplinks[0].probes = 10;  // wan0 probed: 1 of the last 10 rounds lost; wan1 not probed
    s.uplinks[0].lost = 1;
    s.uplinks[0].latency_ms = 12.5;
    s.uplink_failovers = 2;
    s.last_failover_seconds = 0.07;
    s.applies = ApplyStats{4, 1, 0.25, 1.5};
    s.wireguard_read_at = 998;
    s.firewall = {{"rule-1", {12, 1008}}, {"rule-2", {0, 0}}, {"default-drop", {3, 252}}};
    s.firewall_read_at = 997;
    const std::string text = render_metrics(s);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');

    // Line by line: a family's HELP, its TYPE, then only its own samples.
    const std::regex help(R"(# HELP ([a-z_]+) \S.*)"), type(R"(# TYPE ([a-z_]+) (gauge|counter))"),
        sample(R"(([a-z_]+)(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+]+))");
    std::string family, pending_help;
    std::set<std::string> families;
    std::map<std::string, std::string> values;  // the sample line's name+labels -> value
    for (const std::string& l : lines_of(text)) {
        std::smatch m;
        if (std::regex_match(l, m, help)) {
            CHECK_MESSAGE(pending_help.empty(), l);
            pending_help = m[1];
            CHECK_MESSAGE(families.insert(m[1]).second, "family declared twice: " << l);
        } else if (std::regex_match(l, m, type)) {
            CHECK_MESSAGE(m[1] == pending_help, l);
            family = m[1];
            pending_help.clear();
            if (m[2] == "counter") CHECK_MESSAGE(family.size() > 6, family);
            if (m[2] == "counter") CHECK(family.substr(family.size() - 6) == "_total");
        } else if (std::regex_match(l, m, sample)) {
            CHECK_MESSAGE(m[1] == family, l);
            values[m[1].str() + m[2].str()] = m[3];
        } else {
            FAIL_CHECK("not a valid exposition line: " << l);
        }
    }
    CHECK(values.at("avpn_peer_info{group=\"corp\",site=\"branch1\",role=\"spoke\",transport=\"wireguard\",path="
                    "\"direct\",via=\"\"}") == "1");
    CHECK(values.at("avpn_peer_info{group=\"corp\",site=\"branch2\",role=\"spoke\",transport=\"wireguard\",path="
                    "\"hub\",via=\"hq\\\"x\"}") == "1");
    CHECK(values.at("avpn_peer_handshake_age_seconds{group=\"corp\",site=\"branch1\"}") == "10");
    CHECK(values.at("avpn_peer_handshake_age_seconds{group=\"esp\",site=\"paris\"}") == "7");
    CHECK(values.at("avpn_peer_receive_bytes_total{group=\"corp\",site=\"branch1\"}") == "100");
    CHECK(values.at("avpn_peer_transmit_bytes_total{group=\"corp\",site=\"branch1\"}") == "200");
    CHECK(values.count("avpn_peer_receive_bytes_total{group=\"corp\",site=\"branch2\"}") == 0);
    // Active-active: path 1's own series, by device.
    CHECK(values.at("avpn_peer_path_handshake_age_seconds{group=\"corp\",site=\"branch1\",device=\"avpn-corp.p1\"}") == "5");
    CHECK(values.at("avpn_peer_path_receive_bytes_total{group=\"corp\",site=\"branch1\",device=\"avpn-corp.p1\"}") == "300");
    CHECK(values.at("avpn_peer_path_transmit_bytes_total{group=\"corp\",site=\"branch1\",device=\"avpn-corp.p1\"}") == "400");
    CHECK(values.count("avpn_peer_path_receive_bytes_total{group=\"corp\",site=\"branch2\",device=\"avpn-corp.p1\"}") == 0);
    CHECK(values.at("avpn_peer_up{group=\"esp\",site=\"paris\"}") == "1");
    CHECK(values.count("avpn_peer_up{group=\"corp\",site=\"branch1\"}") == 0);  // WireGuard has no session state
    CHECK(values.at("avpn_uplink_up{uplink=\"wan0\"}") == "1");
    CHECK(values.at("avpn_uplink_up{uplink=\"wan1\"}") == "0");
    CHECK(values.at("avpn_uplink_active{uplink=\"wan0\"}") == "1");
    CHECK(values.at("avpn_uplink_failovers_total") == "2");
    CHECK(values.at("avpn_uplink_last_failover_seconds") == "0.07");
    CHECK(values.at("avpn_applies_total") == "4");
    CHECK(values.at("avpn_apply_errors_total") == "1");
    CHECK(values.at("avpn_apply_duration_seconds_total") == "1.5");
    CHECK(values.at("avpn_apply_last_duration_seconds") == "0.25");
    CHECK(values.at("avpn_wireguard_read_timestamp_seconds") == "998");
    CHECK(values.at("avpn_firewall_packets_total{rule=\"rule-1\"}") == "12");
    CHECK(values.at("avpn_firewall_bytes_total{rule=\"rule-1\"}") == "1008");
    CHECK(values.at("avpn_firewall_packets_total{rule=\"rule-2\"}") == "0");
    CHECK(values.at("avpn_firewall_packets_total{rule=\"default-drop\"}") == "3");
    CHECK(values.at("avpn_firewall_bytes_total{rule=\"default-drop\"}") == "252");
    CHECK(values.at("avpn_firewall_read_timestamp_seconds") == "997");
    // Probe figures for the probed uplink only.
    CHECK(values.at("avpn_uplink_latency_seconds{uplink=\"wan0\"}") == "0.0125");
    CHECK(values.at("avpn_uplink_probe_loss_ratio{uplink=\"wan0\"}") == "0.1");
    CHECK(values.count("avpn_uplink_latency_seconds{uplink=\"wan1\"}") == 0);
    CHECK(values.count("avpn_uplink_probe_loss_ratio{uplink=\"wan1\"}") == 0);
}
