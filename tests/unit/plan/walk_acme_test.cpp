// The acme example (examples/acme) as an operator would run it: every site
// file loaded by the config loader, each site planned, and packets walked
// over the five plans (packet_walk.hpp). Hubs sanjose and newyork have
// contacts; london and tokyo list [sanjose, newyork], paris lists only
// newyork and sends everything through it (full tunnel).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"
#include "packet_walk.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

const std::vector<std::string> kSites = {"london", "newyork", "paris", "sanjose", "tokyo"};

struct Acme {
    std::vector<WalkSite> sites;
    std::map<std::string, std::vector<Prefix>> exports;
};

Acme load_acme() {
    const char* root = std::getenv("AVPN_SOURCE_DIR");
    REQUIRE_MESSAGE(root, "AVPN_SOURCE_DIR is set by CTest");
    // Git keeps no file modes: the example keys must be made private again.
    REQUIRE(std::system(("'" + std::string(root) + "/examples/fix-permissions'").c_str()) == 0);
    Acme acme;
    for (const std::string& name : kSites) {
        LoadResult loaded = load_site(std::string(root) + "/examples/acme/sites/" + name + ".toml");
        for (const Error& e : loaded.errors) INFO(format_diagnostic(e));
        REQUIRE(loaded.ok());
        PlanOutcome planned = plan(*loaded.intent);
        for (const Error& e : planned.errors) INFO(e.str());
        REQUIRE(planned.ok());
        REQUIRE(planned.state.groups.size() == 1);
        acme.exports[name] = planned.state.groups[0].exports;
        acme.sites.push_back(walk_site(*loaded.intent, std::move(planned.state)));
    }
    return acme;
}

std::vector<IpAddr> addresses_of(const Acme& acme, const PacketWalker& walker, const std::string& site) {
    std::vector<IpAddr> out;
    for (const Prefix& p : acme.exports.at(site)) out.push_back(host_in(p));
    out.push_back(*walker.tunnel_address(site));
    return out;
}

// The path between the first exported networks of two sites.
Walk between(const Acme& acme, const PacketWalker& walker, const std::string& from, const std::string& to) {
    return walker.walk(from, host_in(acme.exports.at(from).front()), host_in(acme.exports.at(to).front()));
}

}  // namespace

TEST_CASE("packet walk: examples/acme, the paths the relay rule gives") {
    const Acme acme = load_acme();
    const PacketWalker walker("corp", acme.sites);
    REQUIRE(walker.members() == kSites);
    // london and paris share only newyork (the meet); london and tokyo meet
    // at sanjose, first for both; paris reaches sanjose through its home hub.
    const std::map<std::pair<std::string, std::string>, std::vector<std::string>> expected = {
        {{"london", "paris"}, {"london", "newyork", "paris"}},
        {{"paris", "london"}, {"paris", "newyork", "london"}},
        {{"paris", "tokyo"}, {"paris", "newyork", "tokyo"}},
        {{"tokyo", "paris"}, {"tokyo", "newyork", "paris"}},
        {{"london", "tokyo"}, {"london", "sanjose", "tokyo"}},
        {{"tokyo", "london"}, {"tokyo", "sanjose", "london"}},
        {{"paris", "sanjose"}, {"paris", "newyork", "sanjose"}},
        {{"sanjose", "paris"}, {"sanjose", "newyork", "paris"}},
        {{"london", "newyork"}, {"london", "newyork"}},
        {{"sanjose", "newyork"}, {"sanjose", "newyork"}},
    };
    for (const auto& [pair, hops] : expected) {
        Walk w = between(acme, walker, pair.first, pair.second);
        INFO(w.str());
        CHECK(w.delivered);
        CHECK(w.hops == hops);
    }
}

TEST_CASE("packet walk: examples/acme, every exported network reaches every other, nothing else does") {
    const Acme acme = load_acme();
    const PacketWalker walker("corp", acme.sites);
    size_t paths = 0, failed = 0;
    std::string first_failures;
    auto failure = [&](const Walk& w) {
        if (++failed <= 3) first_failures += "\n" + w.str();
    };
    for (const std::string& a : kSites)
        for (const std::string& b : kSites) {
            if (a == b) continue;
            for (const IpAddr& src : addresses_of(acme, walker, a))
                for (const IpAddr& dst : addresses_of(acme, walker, b)) {
                    ++paths;
                    Walk w = walker.walk(a, src, dst);
                    if (!w.delivered || w.hops.back() != b) failure(w);
                }
        }
    CHECK(paths == 342);  // 16 exports and 5 tunnel addresses: 21² - Σ(per site)²

    // Non-shareable VLANs (london Guest, sanjose Management, ...) and
    // london's shareable but unpermitted Cameras never arrive, with one
    // exception: paris's full tunnel ends at newyork, whose own networks it
    // then meets as internet traffic would (only the firewall decides).
    size_t hidden = 0;
    for (const WalkSite& b : acme.sites)
        for (const Prefix& lan : b.lans) {
            const std::vector<Prefix>& shared = acme.exports.at(b.name);
            if (std::find(shared.begin(), shared.end(), lan) != shared.end()) continue;
            ++hidden;
            for (const std::string& a : kSites) {
                if (a == b.name) continue;
                Walk w = walker.walk(a, host_in(acme.exports.at(a).front()), host_in(lan));
                const bool exit_site = a == "paris" && b.name == "newyork";
                if (w.delivered != exit_site || (exit_site && !w.via_default_route)) failure(w);
            }
        }
    CHECK(hidden == 9);
    INFO(failed << " walks went wrong, the first:" << first_failures);
    CHECK(failed == 0);
}

// tokyo has active_active over two uplinks (paths = 2 in its entry): a
// connection from it takes path 0 or 1, a hub answering or relaying keeps
// the path it arrived on towards tokyo, and every other peer is reached on
// path 0 (docs/uplinks.md "Active-active").
TEST_CASE("packet walk: examples/acme, tokyo's two paths hold both ways and through the hubs") {
    Acme acme = load_acme();
    const PacketWalker walker("corp", acme.sites);
    size_t walks = 0, on_path1 = 0, failed = 0;
    std::string first_failures;
    for (const std::string& b : kSites) {
        if (b == "tokyo") continue;
        for (size_t path : {0, 1}) {
            for (const IpAddr& src : addresses_of(acme, walker, "tokyo"))
                for (const IpAddr& dst : addresses_of(acme, walker, b)) {
                    ++walks;
                    Walk w = walker.walk("tokyo", src, dst, path);
                    bool p1 = false;
                    for (const std::string& t : w.trace) p1 = p1 || t.find("on avpn-corp.p1") != std::string::npos;
                    on_path1 += p1;
                    if (!w.delivered || w.hops.back() != b || p1 != (path == 1)) {
                        if (++failed <= 3) first_failures += "\n" + w.str();
                    }
                }
            // The hubs spread towards tokyo too (each runs both paths with
            // it); the spokes send on path 0 and a hub relays that.
            const bool hub = b == "sanjose" || b == "newyork";
            if (!hub && path == 1) continue;
            Walk back = between(acme, walker, b, "tokyo");
            if (hub) back = walker.walk(b, host_in(acme.exports.at(b).front()), host_in(acme.exports.at("tokyo").front()), path);
            INFO(back.str());
            CHECK(back.delivered);
            CHECK(back.hops.back() == "tokyo");
        }
    }
    INFO(failed << " walks went wrong, the first:" << first_failures);
    CHECK(failed == 0);
    CHECK(walks == 108);  // 2 paths x tokyo's 3 addresses x the other sites' 18
    CHECK(on_path1 == 54);  // every path-1 walk left on avpn-corp.p1, no path-0 walk did

    // A path one end lacks fails: sanjose without its path-1 peer for tokyo.
    for (WalkSite& s : acme.sites)
        if (s.name == "sanjose")
            for (nl::WgDevice& d : s.plan.wireguard)
                if (d.ifname == "avpn-corp.p1") d.peers.clear();
    const PacketWalker broken("corp", acme.sites);
    Walk w = broken.walk("tokyo", host_in(acme.exports.at("tokyo").front()), host_in(acme.exports.at("london").front()), 1);
    INFO(w.str());
    CHECK_FALSE(w.delivered);
    CHECK(w.why.find("no peer tokyo on avpn-corp.p1") != std::string::npos);
}
