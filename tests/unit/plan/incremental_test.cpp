// The incremental planner against the full one: after any sequence of
// member changes, (a) the committed plan assembles to exactly plan() of the
// new intent, and (b) the update's delta turns the previous full plan into
// the new one: (previous - was) + want == new, object by object (WireGuard
// peers one by one). Random changes from a fixed seed, hub and spoke view,
// both transports.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "orchestrator/plan/incremental.hpp"
#include "world.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Every object of a state as a comparable value; WireGuard devices split
// into their settings and one entry per peer.
struct Flat {
    std::set<nl::Link> links;
    std::set<nl::InterfaceAddress> addresses;
    std::set<nl::WgDevice> devices;  // without peers
    std::set<std::pair<std::string, nl::WgPeer>> wg_peers;
    std::set<nl::XfrmSa> sas;
    std::set<nl::XfrmPolicy> policies;
    std::set<nl::Route> routes;
    std::set<nl::Rule> rules;
    std::set<PeerPlan> peers;
    std::set<GroupPlan> groups;
    std::set<vici::Connection> ipsec;
    auto tie() const { return std::tie(links, addresses, devices, wg_peers, sas, policies, routes, rules, peers, groups, ipsec); }
    bool operator==(const Flat& o) const { return tie() == o.tie(); }
};

Flat flatten(const DesiredState& s) {
    Flat f;
    f.links = {s.links.begin(), s.links.end()};
    f.addresses = {s.addresses.begin(), s.addresses.end()};
    for (nl::WgDevice d : s.wireguard) {
        for (const nl::WgPeer& p : d.peers) f.wg_peers.insert({d.ifname, p});
        d.peers.clear();
        f.devices.insert(d);
    }
    f.sas = {s.xfrm_states.begin(), s.xfrm_states.end()};
    f.policies = {s.xfrm_policies.begin(), s.xfrm_policies.end()};
    f.routes = {s.routes.begin(), s.routes.end()};
    f.rules = {s.rules.begin(), s.rules.end()};
    f.peers = {s.peers.begin(), s.peers.end()};
    f.groups = {s.groups.begin(), s.groups.end()};
    f.ipsec = {s.ipsec.begin(), s.ipsec.end()};
    return f;
}

template <class T>
bool subtract_all(std::set<T>& from, const std::set<T>& what) {
    bool all = true;
    for (const T& x : what) all = from.erase(x) == 1 && all;
    return all;
}

// previous - was + want, failing if `was` names an object previous lacks.
Flat apply_delta(Flat prev, const Flat& was, const Flat& want) {
    CHECK(subtract_all(prev.links, was.links));
    CHECK(subtract_all(prev.addresses, was.addresses));
    CHECK(subtract_all(prev.devices, was.devices));
    CHECK(subtract_all(prev.wg_peers, was.wg_peers));
    CHECK(subtract_all(prev.sas, was.sas));
    CHECK(subtract_all(prev.policies, was.policies));
    CHECK(subtract_all(prev.routes, was.routes));
    CHECK(subtract_all(prev.rules, was.rules));
    CHECK(subtract_all(prev.peers, was.peers));
    CHECK(subtract_all(prev.groups, was.groups));
    CHECK(subtract_all(prev.ipsec, was.ipsec));
    prev.links.insert(want.links.begin(), want.links.end());
    prev.addresses.insert(want.addresses.begin(), want.addresses.end());
    prev.devices.insert(want.devices.begin(), want.devices.end());
    prev.wg_peers.insert(want.wg_peers.begin(), want.wg_peers.end());
    prev.sas.insert(want.sas.begin(), want.sas.end());
    prev.policies.insert(want.policies.begin(), want.policies.end());
    prev.routes.insert(want.routes.begin(), want.routes.end());
    prev.rules.insert(want.rules.begin(), want.rules.end());
    prev.peers.insert(want.peers.begin(), want.peers.end());
    prev.groups.insert(want.groups.begin(), want.groups.end());
    prev.ipsec.insert(want.ipsec.begin(), want.ipsec.end());
    return prev;
}

Prefix fresh_prefix(int k) { return Prefix{IpAddr::v4((172u << 24) | (16u << 16) | uint32_t(k) << 8), 24}; }

std::vector<std::string> spokes_of(const World& w, const std::string& viewpoint) {
    std::vector<std::string> out;
    for (const SiteSpec& s : w.sites)
        if (s.role != Role::hub && s.name != viewpoint) out.push_back(s.name);
    return out;
}

std::vector<std::string> hubs_of(const World& w) {
    std::vector<std::string> out;
    for (const SiteSpec& s : w.sites)
        if (s.role == Role::hub) out.push_back(s.name);
    return out;
}

// One random member change; returns what it did, for the failure message.
std::string mutate(World& w, const std::string& viewpoint, std::mt19937& rng, int& fresh) {
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    std::vector<std::string> spokes = spokes_of(w, viewpoint), hubs = hubs_of(w);
    // Without spokes left, the only change is a new one.
    switch (spokes.empty() ? 1 : rng() % 8) {
        case 0: {  // a spoke moves one of its VLANs
            SiteSpec& s = w.site(pick(spokes));
            if (s.exports.empty()) s.exports.push_back(fresh_prefix(fresh++));
            else s.exports[rng() % s.exports.size()] = fresh_prefix(fresh++);
            return "move a VLAN of " + s.name;
        }
        case 1: {  // a new spoke
            std::string name = "n" + std::to_string(fresh);
            SiteSpec& s = w.spoke(name, {pick(hubs)}, {fresh_prefix(fresh++)});
            s.contact = Endpoint{IpAddr::v4((203u << 24) | (113u << 8) | uint32_t(fresh % 250)), 51820};
            return "add " + name;
        }
        case 2: {  // a spoke leaves
            std::string name = pick(spokes);
            std::erase_if(w.sites, [&](const SiteSpec& s) { return s.name == name; });
            return "remove " + name;
        }
        case 3: {  // a spoke's contact changes (registry or port forward)
            SiteSpec& s = w.site(pick(spokes));
            s.contact = Endpoint{IpAddr::v4((198u << 24) | (51u << 16) | (100u << 8) | uint32_t(fresh++ % 250)), 4500};
            return "new contact of " + s.name;
        }
        case 4: {  // a spoke reorders or changes its hubs
            SiteSpec& s = w.site(pick(spokes));
            s.hubs = {{pick(hubs), false, {}}};
            if (hubs.size() > 1 && rng() % 2) s.hubs.push_back({pick(hubs), false, {}});
            if (s.hubs.size() == 2 && s.hubs[0].name == s.hubs[1].name) s.hubs.pop_back();
            return "new hubs of " + s.name;
        }
        case 5: {  // maintenance: a spoke switched off or back on
            SiteSpec& s = w.site(pick(spokes));
            s.role = s.role == Role::off ? Role::spoke : Role::off;
            return "toggle " + s.name;
        }
        case 6: {  // a spoke starts or stops spreading over two uplinks (active-active)
            SiteSpec& s = w.site(pick(spokes));
            s.paths = s.paths == 1 ? 2 : 1;
            return std::string(s.paths == 2 ? "spread " : "unspread ") + s.name;
        }
        default: {  // a hub's exports change
            SiteSpec& s = w.site(pick(hubs));
            s.exports.push_back(fresh_prefix(fresh++));
            return "hub " + s.name + " exports more";
        }
    }
}

void run_sequence(World w, const std::string& viewpoint, unsigned seed, int steps) {
    std::mt19937 rng(seed);
    int fresh = 1;
    IncrementalPlanner planner;
    auto first = planner.update(w.intent_for(viewpoint), w.inputs_for(viewpoint));
    REQUIRE(first.full);
    REQUIRE(first.plan.ok());
    Flat previous = flatten(first.plan.state);
    planner.commit(std::move(first));
    size_t incremental = 0;
    for (int step = 0; step < steps; ++step) {
        std::string what = mutate(w, viewpoint, rng, fresh);
        CAPTURE(viewpoint);
        CAPTURE(step);
        CAPTURE(what);
        Intent intent = w.intent_for(viewpoint);
        PlanInputs inputs = w.inputs_for(viewpoint);
        PlanOutcome full = plan(intent, inputs);
        auto u = planner.update(intent, inputs);
        if (!full.ok()) {  // an invalid change is planned in full, errors and all, and not committed
            CHECK(u.full);
            CHECK(u.plan.errors.size() == full.errors.size());
            continue;
        }
        Flat expected = flatten(full.state);
        if (u.full) {
            CHECK(flatten(u.plan.state) == expected);
        } else {
            ++incremental;
            CHECK(apply_delta(previous, flatten(u.was), flatten(u.want)) == expected);
        }
        planner.commit(std::move(u));
        CHECK(flatten(planner.assemble().state) == expected);
        previous = std::move(expected);
    }
    // A sequence that never took the incremental path would prove nothing.
    CHECK(incremental > size_t(steps) / 2);
}

}  // namespace

TEST_CASE("incremental plan equals the full plan: hub view, WireGuard") {
    run_sequence(hub_and_spokes(30, 3, Transport::wireguard), "hub", 1, 60);
}

// Active-active: half the spokes run two paths with the hub (path devices,
// their peers and path 1's table at the hub), and the changes keep toggling.
TEST_CASE("incremental plan equals the full plan: hub view, WireGuard, spokes on two paths") {
    World w = hub_and_spokes(30, 3, Transport::wireguard);
    for (size_t i = 0; i < w.sites.size(); i += 2)
        if (w.sites[i].role == Role::spoke) w.sites[i].paths = 2;
    run_sequence(w, "hub", 3, 60);
    run_sequence(w, w.sites[2].name, 4, 40);  // a spreading spoke's view
}

TEST_CASE("incremental plan equals the full plan: hub view, XFRM") {
    run_sequence(hub_and_spokes(30, 3, Transport::xfrm), "hub", 2, 60);
}

TEST_CASE("incremental plan equals the full plan: three hubs, every view") {
    World w = three_hubs_three_spokes();
    for (const char* site : {"sanjose", "sf", "london", "paris"})
        for (Transport t : {Transport::wireguard, Transport::xfrm}) {
            w.group.transport = t;
            run_sequence(w, site, unsigned(t == Transport::xfrm) * 100 + unsigned(site[1]), 40);
        }
}

TEST_CASE("one changed spoke emits only that spoke and the site-wide part") {
    World w = hub_and_spokes(50, 4, Transport::xfrm);
    IncrementalPlanner planner;
    auto first = planner.update(w.intent_for("hub"), w.inputs_for("hub"));
    planner.commit(std::move(first));
    w.site("s7").exports[1] = fresh_prefix(9);
    auto u = planner.update(w.intent_for("hub"), w.inputs_for("hub"));
    REQUIRE_FALSE(u.full);
    CHECK(u.peers_changed == 1);
    REQUIRE(u.want.peers.size() == 1);
    CHECK(u.want.peers[0].site == "s7");
    CHECK(u.want.xfrm_states.size() == 2);
    // 5 allowed prefixes (4 VLANs + tunnel address) x 3 directions, plus the default drop
    CHECK(u.want.xfrm_policies.size() == 16);
    CHECK(u.was.xfrm_policies.size() == 16);
}

TEST_CASE("a group-wide change falls back to the full plan") {
    World w = hub_and_spokes(5, 2, Transport::wireguard);
    IncrementalPlanner planner;
    planner.commit(planner.update(w.intent_for("hub"), w.inputs_for("hub")));
    w.group.table = 7200;
    auto u = planner.update(w.intent_for("hub"), w.inputs_for("hub"));
    CHECK(u.full);
    CHECK(u.plan.ok());
    CHECK(u.plan.state.routes.front().table == 7200);
}
