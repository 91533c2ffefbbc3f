// The group fingerprint: equal at every site planning the same group from
// the same member list; different as soon as anything routing depends on
// differs; blind to what is live (contacts) or local.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>

#include "orchestrator/plan/group_fingerprint.hpp"
#include "orchestrator/plan/stable_hash.hpp"
#include "world.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

std::string fingerprint_at(const World& w, const std::string& site) {
    PlanOutcome out = w.plan_for(site);
    INFO("planning at " << site);
    REQUIRE(out.ok());
    REQUIRE(out.state.groups.size() == 1);
    return out.state.groups[0].fingerprint;
}

std::string fingerprint_of(const Intent& in) {
    PlanOutcome out = plan(in);
    REQUIRE(out.ok());
    REQUIRE(out.state.groups.size() == 1);
    return out.state.groups[0].fingerprint;
}

Member& member_named(Intent& in, const std::string& name) {
    for (Member& m : in.groups[0].members)
        if (m.name == name) return m;
    FAIL("no member " << name);
    throw;  // unreachable: FAIL ends the test
}

}  // namespace

TEST_CASE("every site of a consistent group computes the same fingerprint: 32 hex digits") {
    World w = three_hubs_three_spokes();
    const std::string at_london = fingerprint_at(w, "london");
    CHECK(at_london.size() == 32);
    CHECK(std::all_of(at_london.begin(), at_london.end(), [](char c) { return std::isxdigit(c) && !std::isupper(c); }));
    for (const SiteSpec& s : w.sites) CHECK(fingerprint_at(w, s.name) == at_london);
}

TEST_CASE("the fingerprint is the canonical form's SHA-256, shortened to 128 bits") {
    World w = three_hubs_three_spokes();
    Intent in = w.intent_for("paris");
    const std::string form = planner::group_canonical_form(in, in.groups[0], {P("10.10.22.0/24"), P("10.10.2.0/24")});
    CHECK(form.rfind("avpn.group/1\ngroup " + w.group.name + "\ntunnel_subnet 100.64.0.0/10\ntransport wireguard\n", 0) == 0);
    // Members sorted by name, this site among them, exports sorted.
    CHECK(form.find("member london spoke") < form.find("member paris spoke"));
    CHECK(form.find("member paris spoke " + public_key_of("paris") +
                    "\n tunnel_address -\n exports 10.10.2.0/24 10.10.22.0/24\n hubs sf\n exit_hubs\n") != std::string::npos);
    // sha256("abc") starts ba7816bf8f01cfea414140de5dae2223.
    CHECK(planner::sha256("abc")[0] == 0xba);
    CHECK(planner::sha256("abc")[15] == 0x23);
}

TEST_CASE("member order and contacts do not change the fingerprint") {
    World w = three_hubs_three_spokes();
    Intent in = w.intent_for("london");
    const std::string before = fingerprint_of(in);
    std::reverse(in.groups[0].members.begin(), in.groups[0].members.end());
    CHECK(fingerprint_of(in) == before);
    member_named(in, "sanjose").contact = E("192.0.2.77:51820");
    CHECK(fingerprint_of(in) == before);
    PlanInputs live;
    live.contacts[{"corp", "sf"}] = E("198.51.100.9:4500");
    CHECK(plan(in, live).state.groups.at(0).fingerprint == before);
    // Local settings are not the group's either.
    in.groups[0].listen_port = 4000;
    in.groups[0].keepalive_seconds = 5;
    in.groups[0].table = 7200;
    CHECK(fingerprint_of(in) == before);
}

TEST_CASE("anything routing depends on changes the fingerprint") {
    World w = three_hubs_three_spokes();
    const Intent base = w.intent_for("london");
    const std::string before = fingerprint_of(base);
    auto differs = [&](const char* what, auto change) {
        Intent in = base;
        change(in);
        INFO(what);
        CHECK(fingerprint_of(in) != before);
    };
    differs("a member's exports", [](Intent& in) { member_named(in, "paris").exports.push_back(P("10.10.23.0/24")); });
    differs("a member's role", [](Intent& in) { member_named(in, "rome").role = Role::off; });
    differs("a member's key", [](Intent& in) { member_named(in, "rome").public_key = public_key_of("other"); });
    differs("a member's hub order", [](Intent& in) { std::swap(member_named(in, "rome").hubs[0], member_named(in, "rome").hubs[1]); });
    differs("a member's default route", [](Intent& in) { member_named(in, "paris").hubs[0].default_route = true; });
    differs("a hub's exit hubs", [](Intent& in) { member_named(in, "tokyo").exit_hubs = {"sf"}; });
    differs("a pinned address", [](Intent& in) { member_named(in, "paris").tunnel_address = A("100.64.0.9"); });
    differs("this site's exports", [](Intent& in) { in.vlans[0].subnets = {P("10.10.9.0/24")}; });
    differs("this site's hubs", [](Intent& in) { std::swap(in.groups[0].hubs[0], in.groups[0].hubs[1]); });
    differs("the tunnel subnet", [](Intent& in) { in.groups[0].tunnel_subnet = P("100.64.0.0/16"); });
    differs("the transport", [](Intent& in) { in.groups[0].transport = Transport::xfrm; });
    differs("the group's name", [](Intent& in) { in.groups[0].name = "other"; });
    differs("a member more", [](Intent& in) {
        Member m = member_named(in, "rome");
        m.name = "milan";
        m.public_key = public_key_of("milan");
        m.exports = {P("10.10.4.0/24")};
        in.groups[0].members.push_back(m);
    });
}
