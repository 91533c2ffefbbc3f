// The packet walk itself (packet_walk.hpp): a hub with a contact and two
// spokes, planned and walked, then each plan spoiled in one place to show
// that the walk notices (a checker that always says "delivered" would make
// the property test worthless).
#include <doctest/doctest.h>

#include <algorithm>

#include "packet_walk.hpp"
#include "world.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

World hub_and_two_spokes(Transport transport) {
    World w;
    w.group.transport = transport;
    w.hub("hub", {P("10.0.0.0/24")}).contact = E("192.0.2.1:51820");
    SiteSpec& a = w.spoke("a", {"hub"}, {P("10.1.0.0/24")});
    a.local_only = {P("10.1.99.0/24")};
    a.contact = E("198.51.100.1:51820");
    SiteSpec& b = w.spoke("b", {"hub"}, {P("10.2.0.0/24")});
    b.contact = E("198.51.100.2:51820");
    return w;
}

std::vector<WalkSite> plans_of(const World& w) {
    std::vector<WalkSite> out;
    for (const SiteSpec& s : w.sites) {
        Intent intent = w.intent_for(s.name);
        PlanOutcome o = plan(intent, w.inputs_for(s.name));
        REQUIRE(o.ok());
        out.push_back(walk_site(intent, std::move(o.state)));
    }
    return out;
}

WalkSite& site(std::vector<WalkSite>& sites, const std::string& name) {
    for (WalkSite& s : sites)
        if (s.name == name) return s;
    FAIL("no site " << name);
    return sites.front();
}

Walk a_to_b(const std::vector<WalkSite>& sites) {
    return PacketWalker("corp", sites).walk("a", A("10.1.0.1"), A("10.2.0.1"));
}

}  // namespace

TEST_CASE("packet walk: WireGuard, delivered through the hub, and each way it can fail") {
    World w = hub_and_two_spokes(Transport::wireguard);
    std::vector<WalkSite> sites = plans_of(w);
    Walk ok = a_to_b(sites);
    INFO(ok.str());
    CHECK(ok.delivered);
    CHECK(ok.hops == std::vector<std::string>{"a", "hub", "b"});
    CHECK_FALSE(ok.via_default_route);

    PacketWalker walker("corp", sites);
    Walk hidden = walker.walk("b", A("10.2.0.1"), A("10.1.99.1"));  // a's non-shareable VLAN
    CHECK_FALSE(hidden.delivered);
    CHECK(hidden.dropped_at == "b");
    CHECK(hidden.step == "route");
    Walk own = walker.walk("b", A("10.2.0.1"), *walker.tunnel_address("a"));
    CHECK(own.delivered);
    CHECK(own.hops.back() == "a");

    SUBCASE("the receiver attributes the source to another peer") {
        for (nl::WgPeer& p : site(sites, "b").plan.wireguard.at(0).peers)
            std::erase(p.allowed_ips, P("10.1.0.0/24"));
        Walk k = a_to_b(sites);
        CHECK_FALSE(k.delivered);
        CHECK(k.dropped_at == "b");
        CHECK(k.step == "source check");
    }
    SUBCASE("no endpoint on either side: no handshake") {
        for (WalkSite& s : sites)
            for (nl::WgPeer& p : s.plan.wireguard.at(0).peers) p.endpoint.reset();
        Walk k = a_to_b(sites);
        CHECK_FALSE(k.delivered);
        CHECK(k.dropped_at == "a");
        CHECK(k.step == "link");
    }
    SUBCASE("the hub has no route onwards") {
        std::erase_if(site(sites, "hub").plan.routes, [](const nl::Route& r) { return r.dst == P("10.2.0.0/24"); });
        Walk k = a_to_b(sites);
        CHECK(k.dropped_at == "hub");
        CHECK(k.step == "route");
    }
}

TEST_CASE("packet walk: XFRM, delivered through the hub, and each way it can fail") {
    World w = hub_and_two_spokes(Transport::xfrm);
    std::vector<WalkSite> sites = plans_of(w);
    Walk ok = a_to_b(sites);
    INFO(ok.str());
    CHECK(ok.delivered);
    CHECK(ok.hops == std::vector<std::string>{"a", "hub", "b"});

    SUBCASE("the return SA is missing at one end") {
        std::erase_if(site(sites, "hub").plan.xfrm_states, [](const nl::XfrmSa& sa) { return sa.key.label == "hub->a"; });
        Walk k = a_to_b(sites);
        CHECK(k.dropped_at == "a");
        CHECK(k.step == "link");
    }
    SUBCASE("the peer is pending: no SA, so the block policy or nothing") {
        std::erase_if(site(sites, "a").plan.xfrm_states, [](const nl::XfrmSa& sa) { return sa.key.label == "a->hub"; });
        Walk k = a_to_b(sites);
        CHECK(k.dropped_at == "a");
        CHECK(k.step == "xfrm sa");
    }
    SUBCASE("the receiver's fwd policy names another SA") {
        for (nl::XfrmPolicy& p : site(sites, "b").plan.xfrm_policies)
            if (p.dir == nl::XfrmDir::fwd)
                for (nl::XfrmTemplate& t : p.templates) t.reqid += 1;
        Walk k = a_to_b(sites);
        CHECK(k.dropped_at == "b");
        CHECK(k.step == "source check");
    }
    SUBCASE("an out policy that blocks") {
        for (nl::XfrmPolicy& p : site(sites, "a").plan.xfrm_policies)
            if (p.dir == nl::XfrmDir::out) p.action = nl::XfrmAction::block;
        Walk k = a_to_b(sites);
        CHECK(k.dropped_at == "a");
        CHECK(k.step == "xfrm policy");
    }
}

TEST_CASE("packet walk: XFRM policies of one priority, and how the tie is broken") {
    // A spoke with two reachable hubs: its home hub h0 carries the tunnel
    // subnet, h1 its own /32. The plan gives the /32 the better priority, so
    // the kernel's choice does not depend on the order of installation.
    World w;
    w.group.transport = Transport::xfrm;
    w.hub("h0", {P("10.0.0.0/24")}).contact = E("192.0.2.1:51820");
    w.hub("h1", {P("10.1.0.0/24")}).contact = E("192.0.2.2:51820");
    w.spoke("s", {"h0", "h1"}, {P("10.2.0.0/24")}).contact = E("198.51.100.1:51820");
    std::vector<WalkSite> sites = plans_of(w);
    const IpAddr h1 = *PacketWalker("corp", sites).tunnel_address("h1");
    for (PolicyTies ties : {PolicyTies::most_specific, PolicyTies::first_installed}) {
        Walk k = PacketWalker("corp", sites, ties).walk("s", A("10.2.0.1"), h1);
        INFO(k.str());
        CHECK_FALSE(k.policy_tie);
        CHECK(k.hops == std::vector<std::string>{"s", "h1"});
    }

    SUBCASE("one priority for all: the tie is reported and broken either way") {
        for (WalkSite& site : sites)
            for (nl::XfrmPolicy& p : site.plan.xfrm_policies)
                if (p.action == nl::XfrmAction::allow) p.priority = 1000;
        Walk meant = PacketWalker("corp", sites).walk("s", A("10.2.0.1"), h1);
        INFO(meant.str());
        CHECK(meant.policy_tie);
        CHECK(meant.hops == std::vector<std::string>{"s", "h1"});
        Walk kernel = PacketWalker("corp", sites, PolicyTies::first_installed).walk("s", A("10.2.0.1"), h1);
        INFO(kernel.str());
        CHECK(kernel.policy_tie);
        CHECK(kernel.hops.at(1) == "h0");  // the /10 sorts, so is installed, before h1's /32
    }
}
