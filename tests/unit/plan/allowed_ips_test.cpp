// Which prefixes each peer carries, and that each goes to exactly one peer.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "helpers.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Every allowed prefix of every WireGuard peer, with the peer that has it.
void check_unique_per_device(const DesiredState& s) {
    for (const nl::WgDevice& dev : s.wireguard) {
        std::map<Prefix, std::string> owner;
        for (const nl::WgPeer& p : dev.peers)
            for (const Prefix& a : p.allowed_ips) {
                auto [it, fresh] = owner.emplace(a, p.site);
                CHECK_MESSAGE(fresh, a.str() << " is on " << it->second << " and " << p.site);
            }
    }
}

IpAddr address_of(const PlanOutcome& o, const std::string& site) { return peer(o.state, site)->tunnel_address; }

std::vector<Prefix> sorted(std::vector<Prefix> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("allowed IPs are unique per interface at every site") {
    auto w = three_hubs_three_spokes();
    for (const SiteSpec& s : w.sites) {
        auto out = w.plan_for(s.name);
        REQUIRE_MESSAGE(out.ok(), errors_text(out));
        check_unique_per_device(out.state);
    }
}

TEST_CASE("spokes that share a hub meet there; the home hub carries the rest and the tunnel subnet") {
    auto w = three_hubs_three_spokes();
    auto out = w.plan_for("london");  // hubs sanjose, sf; paris: sf; rome: tokyo, sf
    REQUIRE(out.ok());
    const PeerPlan* home = peer(out.state, "sanjose");
    const PeerPlan* shared = peer(out.state, "sf");
    REQUIRE(home);
    REQUIRE(shared);
    // tokyo is no hub of london's: reached through london's home.
    CHECK(home->allowed == sorted({P("10.1.0.0/16"), P("10.3.0.0/16"), host_of(address_of(out, "sanjose")),
                                   w.group.tunnel_subnet}));
    // paris and rome both have sf up: london meets them there, with their
    // tunnel addresses, since sf is not london's home.
    CHECK(shared->allowed == sorted({P("10.2.0.0/16"), P("10.10.2.0/24"), P("10.10.3.0/24"), P("10.10.22.0/24"),
                                     host_of(address_of(out, "sf")),
                                     host_of(w.plan_for("paris").state.groups[0].tunnel_address),
                                     host_of(w.plan_for("rome").state.groups[0].tunnel_address)}));
    CHECK_FALSE(has(home->allowed, P("10.10.1.0/24")));  // never the site's own exports
}

TEST_CASE("the meeting hub is symmetric: the smallest rank sum, ties by name") {
    World w;
    w.hub("b-hub", {P("10.2.0.0/16")}).contact = E("192.0.2.2:51820");
    w.hub("a-hub", {P("10.1.0.0/16")}).contact = E("192.0.2.1:51820");
    w.spoke("s1", {"b-hub", "a-hub"}, {P("10.10.1.0/24")});
    w.spoke("s2", {"a-hub", "b-hub"}, {P("10.10.2.0/24")});
    // Rank sums tie (0 + 1 each): both pick a-hub, the smaller name, although
    // s1's home is b-hub.
    CHECK(has(peer(w.plan_for("s1").state, "a-hub")->allowed, P("10.10.2.0/24")));
    CHECK(has(peer(w.plan_for("s2").state, "a-hub")->allowed, P("10.10.1.0/24")));
    // ...and a-hub carries both directly, while b-hub carries them on their
    // own peers as well (each lists it).
    auto a = w.plan_for("a-hub");
    CHECK(has(peer(a.state, "s1")->allowed, P("10.10.1.0/24")));
    CHECK(has(peer(a.state, "s2")->allowed, P("10.10.2.0/24")));
    // Without a-hub's contact, b-hub is the only hub up: both move there.
    w.site("a-hub").contact.reset();
    CHECK(has(peer(w.plan_for("s1").state, "b-hub")->allowed, P("10.10.2.0/24")));
    CHECK(has(peer(w.plan_for("s2").state, "b-hub")->allowed, P("10.10.1.0/24")));
    CHECK(peer(w.plan_for("s2").state, "a-hub")->allowed.empty());  // listed, unreachable: carries nothing
    auto b = w.plan_for("b-hub");
    CHECK(has(peer(b.state, "s2")->allowed, P("10.10.2.0/24")));
}

TEST_CASE("the primary hub is the first reachable one in the spoke's order") {
    auto w = three_hubs_three_spokes();
    w.site("sf").contact = E("192.0.2.2:51820");  // sanjose has no contact
    auto out = w.plan_for("london");
    REQUIRE(out.ok());
    CHECK(has(peer(out.state, "sf")->allowed, w.group.tunnel_subnet));
    CHECK_FALSE(has(peer(out.state, "sanjose")->allowed, w.group.tunnel_subnet));
    w.site("sanjose").contact = E("192.0.2.1:51820");
    out = w.plan_for("london");
    CHECK(has(peer(out.state, "sanjose")->allowed, w.group.tunnel_subnet));
}

TEST_CASE("a live contact from the registry overrides the static one") {
    auto w = three_hubs_three_spokes();
    w.site("sanjose").contact = E("192.0.2.1:51820");
    PlanInputs in;
    in.contacts[{"corp", "sanjose"}] = E("203.0.113.9:40000");
    auto out = plan(w.intent_for("london"), in);
    REQUIRE(out.ok());
    CHECK(peer(out.state, "sanjose")->endpoint == E("203.0.113.9:40000"));
    CHECK_FALSE(peer(out.state, "sf")->endpoint);
}

TEST_CASE("a hub's spoke peer carries that spoke's exports and tunnel address only") {
    auto w = three_hubs_three_spokes();
    auto out = w.plan_for("sf");
    REQUIRE(out.ok());
    const PeerPlan* paris = peer(out.state, "paris");
    REQUIRE(paris);
    CHECK(paris->allowed ==
          std::vector<Prefix>{P("10.10.2.0/24"), P("10.10.22.0/24"), host_of(paris->tunnel_address)});
}

TEST_CASE("a hub's hub peer carries the spokes that reach that hub but not this one") {
    auto w = three_hubs_three_spokes();
    auto out = w.plan_for("sanjose");
    REQUIRE(out.ok());
    // paris lists only sf; rome lists tokyo first, then sf: rome goes to tokyo.
    const PeerPlan* sf = peer(out.state, "sf");
    const PeerPlan* tokyo = peer(out.state, "tokyo");
    REQUIRE(sf);
    REQUIRE(tokyo);
    CHECK(has(sf->allowed, P("10.10.2.0/24")));
    CHECK(has(sf->allowed, P("10.10.22.0/24")));
    CHECK_FALSE(has(sf->allowed, P("10.10.3.0/24")));
    CHECK(has(tokyo->allowed, P("10.10.3.0/24")));
    // london lists sanjose itself: a direct peer, not carried by sf.
    CHECK_FALSE(has(sf->allowed, P("10.10.1.0/24")));
    CHECK(has(peer(out.state, "london")->allowed, P("10.10.1.0/24")));
    // Tunnel addresses travel with their spoke.
    CHECK(has(tokyo->allowed, host_of(w.plan_for("rome").state.groups[0].tunnel_address)));
}

TEST_CASE("one prefix exported by two members is an error naming both") {
    auto w = three_hubs_three_spokes();
    w.site("rome").exports.push_back(P("10.10.2.0/24"));  // paris's
    auto out = w.plan_for("london");
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].why.find("paris") != std::string::npos);
    CHECK(out.errors[0].why.find("rome") != std::string::npos);
    CHECK(out.errors[0].why.find("10.10.2.0/24") != std::string::npos);
}

TEST_CASE("the WireGuard device names its key file and carries the site's public key") {
    // A dump only shows the public half; without it in the plan, apply could
    // not tell a fresh device (no key) from a configured one and would leave
    // the key unset.
    auto w = three_hubs_three_spokes();
    auto out = w.plan_for("london");
    REQUIRE_MESSAGE(out.ok(), errors_text(out));
    REQUIRE(out.state.wireguard.size() == 1);
    CHECK(out.state.wireguard[0].public_key == public_key_of("london"));
    CHECK(out.state.wireguard[0].private_key.private_key_file == "/etc/avpn/london.key");
}
