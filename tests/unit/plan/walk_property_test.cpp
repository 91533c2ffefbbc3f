// Issue 10, "every member reaches every other": thousands of random groups
// (1-4 hubs, 0-6 spokes, random hub orders, full tunnels, members off, hubs
// with and without a contact, both transports), every site planned from the
// same member list, and every path walked over the plans (packet_walk.hpp).
// What must hold (docs: /work/notes/relay-rule.md):
// - between two connected members, every exported network and the tunnel
//   address of one reach every exported network and the tunnel address of
//   the other, both ways. Connected: a spoke with a reachable hub in its
//   list; a hub that is reachable or can reach a reachable hub (WireGuard:
//   one side's endpoint is enough for a handshake; XFRM needs both). Two
//   hubs without a contact never meet and are exempt;
// - a network that is not exported (a non-shareable VLAN, a shareable VLAN
//   the spoke did not permit) is never delivered from another site. A full
//   tunnel's exit site is the one exception: what reaches it by the default
//   route meets its connected networks as internet traffic would (counted).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "packet_walk.hpp"
#include "world.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

// Only the engine's raw output: distributions and std::shuffle differ
// between standard libraries, and the groups must not.
struct Rng {
    std::mt19937 engine;
    size_t below(size_t n) { return engine() % n; }
    bool chance(unsigned percent) { return engine() % 100 < percent; }
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }
};

// Member m's k-th network of one kind: 10.m.(64 kind + k).0/24.
Prefix net(size_t member, size_t kind, size_t k) {
    return Prefix{IpAddr::v4(10u << 24 | uint32_t(member) << 16 | uint32_t(64 * kind + k) << 8), 24};
}

std::vector<Prefix> nets(Rng& r, size_t member, size_t kind, size_t most, size_t least = 0) {
    std::vector<Prefix> out;
    for (size_t k = 0, n = least + r.below(most - least + 1); k < n; ++k) out.push_back(net(member, kind, k));
    return out;
}

void give_contact(Rng& r, SiteSpec& s, uint32_t address) {
    s.contact = Endpoint{IpAddr::v4(address), 51820};
    s.live_contact = r.chance(50);
}

World random_group(Rng& r) {
    World w;
    const bool xfrm = r.chance(50);
    w.group.transport = xfrm ? Transport::xfrm : Transport::wireguard;
    const size_t hubs = 1 + r.below(4), spokes = r.below(7);
    std::vector<std::string> hub_names;
    for (size_t i = 0; i < hubs; ++i) hub_names.push_back("h" + std::to_string(i));
    for (size_t i = 0; i < hubs; ++i) {
        SiteSpec& h = w.hub(hub_names[i], nets(r, i, 0, 2, 1));
        h.local_only = nets(r, i, 1, 1);
        if (r.chance(12)) h.role = Role::off;
        if (r.chance(70)) give_contact(r, h, 0xc0000200u + uint32_t(i) + 1);  // 192.0.2.x
        if (hubs > 1 && r.chance(25)) {
            std::vector<std::string> others;
            for (const std::string& n : hub_names)
                if (n != h.name) others.push_back(n);
            r.shuffle(others);
            others.resize(1 + r.below(others.size()));
            h.exit_hubs = others;
        }
    }
    for (size_t j = 0; j < spokes; ++j) {
        const size_t member = hubs + j;
        std::vector<std::string> order = hub_names;
        r.shuffle(order);
        order.resize(1 + r.below(order.size()));
        SiteSpec& s = w.spoke("s" + std::to_string(j), order, nets(r, member, 0, 2));
        if (r.chance(25)) s.hubs[r.below(s.hubs.size())].default_route = true;
        s.local_only = nets(r, member, 1, 1);
        s.unpermitted = nets(r, member, 2, 1);
        if (r.chance(12)) s.role = Role::off;
        // An XFRM SA needs both ends' contacts; a WireGuard spoke is usually behind NAT.
        if (xfrm || r.chance(25)) give_contact(r, s, 0xc6336400u + uint32_t(j) + 1);  // 198.51.100.x
    }
    return w;
}

std::string prefixes(const std::vector<Prefix>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i].str();
    return s + "]";
}

std::string describe(const World& w) {
    std::string s = "group (" + std::string(to_string(w.group.transport)) + "):";
    for (const SiteSpec& m : w.sites) {
        s += "\n  " + m.name + " " + std::string(to_string(m.role));
        if (!m.hubs.empty()) {
            s += " hubs [";
            for (size_t i = 0; i < m.hubs.size(); ++i)
                s += (i ? " " : "") + m.hubs[i].name + (m.hubs[i].default_route ? "(default)" : "");
            s += "]";
        }
        if (!m.exit_hubs.empty()) {
            s += " exit_hubs [";
            for (size_t i = 0; i < m.exit_hubs.size(); ++i) s += (i ? " " : "") + m.exit_hubs[i];
            s += "]";
        }
        s += m.contact ? " contact " + m.contact->str() + (m.live_contact ? " (live)" : " (static)") : " no contact";
        s += " exports " + prefixes(m.exports);
        if (!m.local_only.empty()) s += " local " + prefixes(m.local_only);
        if (!m.unpermitted.empty()) s += " unpermitted " + prefixes(m.unpermitted);
    }
    return s;
}

// Who the relay rule promises a path to.
struct Promise {
    const World& w;

    const SiteSpec* find(const std::string& name) const {
        for (const SiteSpec& s : w.sites)
            if (s.name == name) return &s;
        return nullptr;
    }
    bool reachable_hub(const std::string& name) const {
        const SiteSpec* h = find(name);
        return h && h->role == Role::hub && h->contact;
    }
    bool xfrm() const { return w.group.transport == Transport::xfrm; }
    bool connected(const SiteSpec& s) const {
        if (s.role == Role::off) return false;
        if (s.role == Role::hub) {
            if (s.contact) return true;
            if (xfrm()) return false;  // nobody can set up an SA towards it
            for (const SiteSpec& h : w.sites)
                if (h.name != s.name && reachable_hub(h.name)) return true;
            return false;
        }
        if (xfrm() && !s.contact) return false;
        for (const HubRef& h : s.hubs)
            if (reachable_hub(h.name)) return true;
        return false;
    }
    bool exempt(const SiteSpec& a, const SiteSpec& b) const {
        return a.role == Role::hub && b.role == Role::hub && !a.contact && !b.contact;
    }
};

std::vector<IpAddr> addresses_of(const SiteSpec& s, const PacketWalker& walker) {
    std::vector<IpAddr> out;
    for (const Prefix& p : s.exports) out.push_back(host_in(p));
    if (auto t = walker.tunnel_address(s.name)) out.push_back(*t);
    return out;
}

struct Tally {
    size_t groups = 0, paths = 0, failed_paths = 0, failed_groups = 0, plan_errors = 0;
    size_t leak_checks = 0, exit_reached = 0, policy_ties = 0;
    std::map<std::string, size_t> failed_by_step;  // "delivered" when it reached the wrong site
    std::string shown;  // the first failing groups and the smallest one
    size_t shown_groups = 0;
    std::string smallest;
    size_t smallest_size = 0;
};

// Walks every promised path and every forbidden one of one group.
void check_group(const World& w, Tally& t) {
    ++t.groups;
    std::vector<WalkSite> sites;
    std::string failures;
    size_t failed = 0;
    for (const SiteSpec& s : w.sites) {
        Intent intent = w.intent_for(s.name);
        PlanOutcome o = plan(intent, w.inputs_for(s.name));
        if (!o.ok()) {
            ++t.plan_errors;
            ++failed;
            for (const Error& e : o.errors) failures += "\n  plan of " + s.name + ": " + e.str();
        }
        sites.push_back(walk_site(intent, std::move(o.state)));
    }
    const PacketWalker walker(w.group.name, std::move(sites));
    const Promise promise{w};
    auto record = [&](const Walk& k) {
        ++t.failed_paths;
        ++t.failed_by_step[k.delivered ? "delivered" : k.step];
        if (++failed <= 2) failures += "\n  " + k.str();
    };
    for (const SiteSpec& a : w.sites)
        for (const SiteSpec& b : w.sites) {
            if (&a == &b || !promise.connected(a) || !promise.connected(b) || promise.exempt(a, b)) continue;
            for (const IpAddr& src : addresses_of(a, walker))
                for (const IpAddr& dst : addresses_of(b, walker)) {
                    ++t.paths;
                    Walk k = walker.walk(a.name, src, dst);
                    t.policy_ties += k.policy_tie;
                    if (!k.delivered || k.delivered_at() != b.name) record(k);
                }
        }
    for (const SiteSpec& b : w.sites) {
        std::vector<Prefix> hidden = b.local_only;
        hidden.insert(hidden.end(), b.unpermitted.begin(), b.unpermitted.end());
        for (const Prefix& n : hidden)
            for (const std::string& a : walker.members()) {
                if (a == b.name) continue;
                ++t.leak_checks;
                Walk k = walker.walk(a, *walker.tunnel_address(a), host_in(n));
                if (!k.delivered) continue;
                if (k.via_default_route && k.delivered_at() == b.name)
                    ++t.exit_reached;
                else
                    record(k);
            }
    }
    if (!failed) return;
    ++t.failed_groups;
    std::string text = describe(w) + "\n  " + std::to_string(failed) + " failed walks, the first:" + failures;
    if (t.shown_groups++ < 2) t.shown += "\n" + text;
    if (t.smallest.empty() || w.sites.size() < t.smallest_size) {
        t.smallest = text;
        t.smallest_size = w.sites.size();
    }
}

}  // namespace

TEST_CASE("packet walk: in random groups every connected member reaches every other, and nothing more") {
    constexpr size_t kGroups = 3000;
    Rng r{std::mt19937(20261205)};
    Tally t;
    for (size_t g = 0; g < kGroups; ++g) check_group(random_group(r), t);
    std::printf("walk property: %zu groups, %zu promised paths, %zu hidden-network walks "
                "(%zu reached only a full tunnel's exit site), %zu walks with tied XFRM policies; "
                "failed: %zu walks in %zu groups, %zu plans with errors\n",
                t.groups, t.paths, t.leak_checks, t.exit_reached, t.policy_ties, t.failed_paths, t.failed_groups,
                t.plan_errors);
    for (const auto& [step, n] : t.failed_by_step) std::printf("  failed at %s: %zu\n", step.c_str(), n);
    CHECK(t.paths > 10 * kGroups);  // the generator still makes groups worth walking
    INFO("first failing groups:" << t.shown << "\nsmallest failing group:\n" << t.smallest);
    CHECK(t.failed_paths == 0);
    CHECK(t.plan_errors == 0);
}
