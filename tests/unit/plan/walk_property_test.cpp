// Issue 10, "every member reaches every other": thousands of random groups
// (1-4 hubs, 0-6 spokes, random hub orders, full tunnels, members off, hubs
// with and without a contact, both transports), every site planned from the
// same member list, and every path walked over the plans (packet_walk.hpp).
// What must hold (the relay rule of issue 10):
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

#include <array>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "packet_walk.hpp"
#include "walk_groups.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

bool shares_hub(const SiteSpec& a, const SiteSpec& b) {
    for (const HubRef& x : a.hubs)
        for (const HubRef& y : b.hubs)
            if (x.name == y.name) return true;
    return false;
}

std::vector<IpAddr> addresses_of(const SiteSpec& s, const PacketWalker& walker) {
    std::vector<IpAddr> out;
    for (const Prefix& p : s.exports) out.push_back(host_in(p));
    if (auto t = walker.tunnel_address(s.name)) out.push_back(*t);
    return out;
}

bool is_dead(const World& w, const std::string& site) {
    return std::find(w.dead_hubs.begin(), w.dead_hubs.end(), site) != w.dead_hubs.end();
}

// What walking one group found.
struct GroupCheck {
    size_t paths = 0, leak_checks = 0, exit_reached = 0, policy_ties = 0, plan_errors = 0;
    size_t shortcut_paths = 0;                      // between the ends of an up shortcut
    size_t shortcut_paths_two_hubs = 0;             // of those, between ends that share no hub
    size_t path1_walks = 0;                         // on further paths of a spreading source (active-active)
    std::array<size_t, kMaxPaths> walks_on_path{};  // ... by path
    size_t failed = 0;                              // wrong walks and plans with errors
    std::map<std::string, size_t> failed_by_step;   // "delivered": at the wrong site
    std::string failures;                           // plan errors, the first two wrong walks
};

// Plans every site, then walks every promised path and every forbidden one.
GroupCheck check_group(const World& w) {
    GroupCheck c;
    std::vector<WalkSite> sites;
    for (const SiteSpec& s : w.sites) {
        if (is_dead(w, s.name)) continue;  // it plans nothing and forwards nothing
        Intent intent = w.intent_for(s.name);
        PlanOutcome o = plan(intent, w.inputs_for(s.name));
        if (!o.ok()) {
            ++c.plan_errors;
            ++c.failed;
            for (const Error& e : o.errors) c.failures += "\n  plan of " + s.name + ": " + e.str();
        }
        sites.push_back(walk_site(intent, std::move(o.state)));
    }
    const PacketWalker walker(w.group.name, std::move(sites));
    const Promise promise{w};
    const bool spreading = std::any_of(w.sites.begin(), w.sites.end(), [](const SiteSpec& s) { return s.paths > 1; });
    auto record = [&](const Walk& k) {
        ++c.failed_by_step[k.delivered ? "delivered" : k.step];
        if (++c.failed <= 2) c.failures += "\n  " + k.str();
    };
    for (const SiteSpec& a : w.sites)
        for (const SiteSpec& b : w.sites) {
            if (&a == &b || !promise.connected(a) || !promise.connected(b) || promise.exempt(a, b)) continue;
            for (const IpAddr& src : addresses_of(a, walker))
                for (const IpAddr& dst : addresses_of(b, walker)) {
                    ++c.paths;
                    Walk k = walker.walk(a.name, src, dst);
                    c.policy_ties += k.policy_tie;
                    if (!k.delivered || k.delivered_at() != b.name) {
                        record(k);
                        continue;
                    }
                    // Where the source spreads this connection over paths
                    // (active-active), every further path must arrive too.
                    for (size_t path = 1; spreading && path < kMaxPaths; ++path) {
                        Walk k1 = walker.walk(a.name, src, dst, path);
                        const bool not_spread = !k1.delivered && k1.step == "start";
                        if (not_spread) break;
                        ++c.path1_walks;
                        ++c.walks_on_path[path];
                        if (!k1.delivered || k1.delivered_at() != b.name) record(k1);
                    }
                    // An up shortcut carries its ends' traffic directly.
                    auto sc = w.shortcuts.find(std::minmax(a.name, b.name));
                    if (sc == w.shortcuts.end() || sc->second != ShortcutState::up) continue;
                    ++c.shortcut_paths;
                    if (!shares_hub(a, b)) ++c.shortcut_paths_two_hubs;
                    if (k.hops.size() != 2) {
                        k.why = "delivered, but not over the shortcut";
                        record(k);
                    }
                }
        }
    for (const SiteSpec& b : w.sites) {
        std::vector<Prefix> hidden = b.local_only;
        hidden.insert(hidden.end(), b.unpermitted.begin(), b.unpermitted.end());
        for (const Prefix& n : hidden)
            for (const std::string& a : walker.members()) {
                if (a == b.name) continue;
                ++c.leak_checks;
                Walk k = walker.walk(a, *walker.tunnel_address(a), host_in(n));
                if (!k.delivered) continue;
                if (k.via_default_route && k.delivered_at() == b.name)
                    ++c.exit_reached;
                else
                    record(k);
            }
    }
    return c;
}

std::string failure_text(const World& w, const GroupCheck& c) {
    return describe(w) + "\n  " + std::to_string(c.failed) + " failed, the first:" + c.failures;
}

// The group without site i and every reference to it; none when a spoke
// would be left without hubs (no valid site file says that).
std::optional<World> without_site(const World& w, size_t i) {
    World out = w;
    const std::string gone = w.sites[i].name;
    out.sites.erase(out.sites.begin() + long(i));
    for (SiteSpec& s : out.sites) {
        std::erase_if(s.hubs, [&](const HubRef& h) { return h.name == gone; });
        std::erase(s.exit_hubs, gone);
        std::erase(out.dead_hubs, gone);
        if (s.role != Role::hub && s.hubs.empty()) return std::nullopt;
    }
    return out;
}

// A smaller group that still fails, to debug with: sites dropped one at a
// time, then each site's extra networks, exit hubs and default routes.
World shrink(World w) {
    auto fails = [](const World& g) { return check_group(g).failed > 0; };
    for (bool smaller = true; smaller;) {
        smaller = false;
        for (size_t i = 0; i < w.sites.size() && !smaller; ++i)
            if (auto v = without_site(w, i); v && fails(*v)) w = *v, smaller = true;
    }
    for (size_t i = 0; i < w.sites.size(); ++i) {
        auto attempt = [&](auto change) {
            World v = w;
            change(v.sites[i]);
            if (fails(v)) w = std::move(v);
        };
        attempt([](SiteSpec& s) { s.local_only.clear(); });
        attempt([](SiteSpec& s) { s.unpermitted.clear(); });
        attempt([](SiteSpec& s) { s.exit_hubs.clear(); });
        attempt([](SiteSpec& s) { for (HubRef& h : s.hubs) h.default_route = false; });
        attempt([](SiteSpec& s) { s.exports.resize(std::min<size_t>(s.exports.size(), 1)); });
        attempt([](SiteSpec& s) { s.live_contact = false; });
    }
    return w;
}

// Every group `make` gives, walked; the totals printed under `title`.
struct Totals {
    GroupCheck all;
    size_t groups = 0, failed_groups = 0;
    std::string shown;  // the first failing groups, the first one shrunk
};

template <class Make>
Totals check_groups(const char* title, size_t count, Rng& r, Make&& make) {
    Totals t;
    std::optional<World> first_failing;
    for (size_t g = 0; g < count; ++g) {
        std::optional<World> w = make(r);
        if (!w) continue;
        ++t.groups;
        GroupCheck c = check_group(*w);
        t.all.paths += c.paths;
        t.all.leak_checks += c.leak_checks;
        t.all.exit_reached += c.exit_reached;
        t.all.policy_ties += c.policy_ties;
        t.all.plan_errors += c.plan_errors;
        t.all.shortcut_paths += c.shortcut_paths;
        t.all.shortcut_paths_two_hubs += c.shortcut_paths_two_hubs;
        t.all.path1_walks += c.path1_walks;
        for (size_t i = 0; i < kMaxPaths; ++i) t.all.walks_on_path[i] += c.walks_on_path[i];
        t.all.failed += c.failed;
        for (const auto& [step, n] : c.failed_by_step) t.all.failed_by_step[step] += n;
        if (!c.failed) continue;
        if (t.failed_groups++ < 2) t.shown += "\n" + failure_text(*w, c);
        if (!first_failing) first_failing = w;
    }
    const GroupCheck& all = t.all;
    std::printf("%s: %zu groups, %zu promised paths, %zu hidden-network walks "
                "(%zu reached only a full tunnel's exit site), %zu walks with tied XFRM policies; "
                "failed: %zu (walks and plans) in %zu groups, %zu plans with errors\n",
                title, t.groups, all.paths, all.leak_checks, all.exit_reached, all.policy_ties, all.failed,
                t.failed_groups, all.plan_errors);
    for (const auto& [step, n] : all.failed_by_step) std::printf("  failed at %s: %zu\n", step.c_str(), n);
    if (first_failing) {
        World small = shrink(*first_failing);
        t.shown += "\nthe first failing group, shrunk:\n" + failure_text(small, check_group(small));
    }
    return t;
}

// Some of its active hubs died (at least one): every other hub and the
// spokes that list a dead hub have it in their dead_peers, nobody else.
std::optional<World> with_dead_hubs(Rng& r) {
    World w = random_group(r);
    std::vector<std::string> active;
    for (const SiteSpec& s : w.sites)
        if (s.role == Role::hub) active.push_back(s.name);
    if (active.empty()) return std::nullopt;
    for (const std::string& h : active)
        if (r.chance(40)) w.dead_hubs.push_back(h);
    if (w.dead_hubs.empty()) w.dead_hubs.push_back(active[r.below(active.size())]);
    return w;
}

// A WireGuard group with shortcuts on, some pairs of spokes with contacts
// in a shortcut, up or trying (both ends alike), whether they share a hub
// or meet through two, and sometimes dead hubs as above.
std::optional<World> with_shortcuts(Rng& r) {
    World w = random_group(r);
    if (w.group.transport != Transport::wireguard) return std::nullopt;
    w.group.shortcuts = true;
    // Shortcuts need both ends' contacts (the registry's, here live ones).
    uint32_t next = 0xcb007101u;  // 203.0.113.x
    for (SiteSpec& s : w.sites)
        if (s.role == Role::spoke && !s.contact && r.chance(80)) {
            s.contact = Endpoint{IpAddr::v4(next++), 51820};
            s.live_contact = true;
        }
    for (const SiteSpec& a : w.sites)
        for (const SiteSpec& b : w.sites) {
            if (a.name >= b.name || a.role != Role::spoke || b.role != Role::spoke || !a.contact || !b.contact ||
                r.chance(30))
                continue;
            w.shortcuts[{a.name, b.name}] = r.chance(75) ? ShortcutState::up
                                            : r.chance(50) ? ShortcutState::trying : ShortcutState::answering;
        }
    if (w.shortcuts.empty()) return std::nullopt;
    if (r.chance(30))
        for (const SiteSpec& s : w.sites)
            if (s.role == Role::hub && r.chance(40)) w.dead_hubs.push_back(s.name);
    return w;
}

// A WireGuard group where some members spread over two or three uplinks
// (active-active, docs/uplinks.md): paths = 2 or 3 in their entries. A pair
// runs them where the other end has a static contact and one path itself,
// so a hub may carry spokes of two and of three paths at once.
std::optional<World> with_paths(Rng& r) {
    World w = random_group(r);
    if (w.group.transport != Transport::wireguard) return std::nullopt;
    bool any = false;
    for (SiteSpec& s : w.sites)
        if (s.role != Role::off && r.chance(40)) {
            s.paths = r.chance(50) ? 2 : 3;
            any = true;
        }
    if (!any) return std::nullopt;
    if (r.chance(30))
        for (const SiteSpec& s : w.sites)
            if (s.role == Role::hub && r.chance(40)) w.dead_hubs.push_back(s.name);
    return w;
}

}  // namespace

TEST_CASE("packet walk: in random groups every connected member reaches every other, and nothing more") {
    constexpr size_t kGroups = 3000;
    Rng r{std::mt19937(20261205)};
    Totals t = check_groups("walk property", kGroups, r, [](Rng& g) { return std::optional<World>(random_group(g)); });
    CHECK(t.all.paths > 10 * kGroups);  // the generator still makes groups worth walking
    INFO("first failing groups:" << t.shown);
    CHECK(t.all.failed == 0);
    CHECK(t.all.plan_errors == 0);
    // Two matching XFRM policies of one priority: the kernel takes the one
    // installed first, which no plan controls (PolicyTies), so the walk's
    // most-specific choice would say nothing about the kernel.
    CHECK(t.all.policy_ties == 0);
}

// docs/planner.md, "Dead hubs": a hub that died is noticed only by the sites
// that peer with it, and each site plans with what it knows. Between live
// connected members every path must still pass every hop's source check:
// both ends of each path must attribute each other to the same hub.
TEST_CASE("packet walk: with dead hubs known only to their peers, every live member still reaches every other") {
    constexpr size_t kGroups = 3000;
    Rng r{std::mt19937(20261206)};
    Totals t = check_groups("walk property, dead hubs", kGroups, r, with_dead_hubs);
    CHECK(t.groups > kGroups / 2);
    CHECK(t.all.paths > 5 * t.groups);
    INFO("first failing groups:" << t.shown);
    CHECK(t.all.failed == 0);
    CHECK(t.all.plan_errors == 0);
    CHECK(t.all.policy_ties == 0);
}

// docs/shortcuts.md: with shortcuts up or trying between pairs of spokes
// (both ends alike), every member still reaches every other through every
// hop's source check, hidden networks stay hidden, and an up shortcut's
// ends reach each other directly, through no hub.
TEST_CASE("packet walk: with shortcuts, every member reaches every other and shortcut ends go direct") {
    constexpr size_t kGroups = 3000;
    Rng r{std::mt19937(20261207)};
    Totals t = check_groups("walk property, shortcuts", kGroups, r, with_shortcuts);
    std::printf("  %zu paths between the ends of an up shortcut, %zu of them between spokes that share no hub\n",
                t.all.shortcut_paths, t.all.shortcut_paths_two_hubs);
    CHECK(t.groups > kGroups / 10);
    CHECK(t.all.shortcut_paths > t.groups);
    CHECK(t.all.shortcut_paths_two_hubs > t.groups / 10);  // the generator pairs those too
    INFO("first failing groups:" << t.shown);
    CHECK(t.all.failed == 0);
    CHECK(t.all.plan_errors == 0);
}

// docs/uplinks.md "Active-active": with members on two or three paths,
// every member still reaches every other, on path 0 and, where the source
// spreads the connection, on every further path (each hop's source check on
// that path's device), and hidden networks stay hidden.
TEST_CASE("packet walk: with members on two or three paths, every path reaches every member") {
    constexpr size_t kGroups = 2000;
    Rng r{std::mt19937(20261208)};
    Totals t = check_groups("walk property, paths", kGroups, r, with_paths);
    std::printf("  %zu walks on path 1, %zu on path 2\n", t.all.walks_on_path[1], t.all.walks_on_path[2]);
    CHECK(t.groups > kGroups / 4);
    CHECK(t.all.walks_on_path[1] > t.groups);
    CHECK(t.all.walks_on_path[2] > t.groups / 2);
    CHECK(t.all.walks_on_path[3] == 0);  // nobody runs four
    INFO("first failing groups:" << t.shown);
    CHECK(t.all.failed == 0);
    CHECK(t.all.plan_errors == 0);
}
