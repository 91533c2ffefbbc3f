#include "orchestrator/plan/shortcut_watch.hpp"

#include <algorithm>

namespace avpn::planner {

namespace {

// The active hubs member `i` lists (hub lists are a spoke's; a hub's is empty).
std::vector<size_t> listed_hubs(const GroupModel& model, size_t i) {
    std::vector<size_t> out;
    for (const HubRef& ref : *model.members[i].hubs) {
        auto h = model.find(ref.name);
        if (h && *h != i && model.members[*h].role == Role::hub) out.push_back(*h);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}


// Every spoke that lists an active hub, as this one does: its traffic
// reaches this site through one hub they share, or through two (the hubs
// are a full mesh). Hub lists are read from the member lists alone, not
// from which hubs are reachable now: a hub going dead must not re-render
// the table, which would zero every counter avpnd is watching.
void watch_group(const GroupModel& model, std::vector<fw::ShortcutWatch>& out) {
    const Group& g = *model.group;
    if (!g.shortcuts || g.transport != Transport::wireguard || model.me().role != Role::spoke) return;
    if (listed_hubs(model, model.self).empty()) return;
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || m.role != Role::spoke || listed_hubs(model, i).empty()) continue;
        fw::ShortcutWatch w;
        // '/' is in no group or site name (config: letters, digits, '.',
        // '_', '-'), so no two (group, site) pairs share a counter, as
        // "a-b" + "c" and "a" + "b-c" would with '-'; nft's own syntax
        // takes it unquoted.
        w.counter = "shortcut-" + g.name + "/" + *m.name;
        w.group = g.name;
        w.site = *m.name;
        w.prefixes = *m.exports;
        w.prefixes.push_back(Prefix::host(m.tunnel_address));
        out.push_back(std::move(w));
    }
}

// Every prefix of every entry, disjoint: after sorting, a prefix inside an
// earlier one follows it with only prefixes inside that same one in
// between, so comparing with the last kept one is enough (as
// firewall_plan.cpp's collapse()).
void make_disjoint(std::vector<fw::ShortcutWatch>& watch) {
    struct Owned {
        Prefix prefix;
        size_t entry;
        bool operator<(const Owned& o) const { return prefix != o.prefix ? prefix < o.prefix : entry < o.entry; }
    };
    std::vector<Owned> all;
    for (size_t e = 0; e < watch.size(); ++e)
        for (const Prefix& p : watch[e].prefixes) all.push_back({p, e});
    std::sort(all.begin(), all.end());
    for (fw::ShortcutWatch& w : watch) w.prefixes.clear();
    const Prefix* last = nullptr;
    for (const Owned& o : all) {
        if (last && last->contains(o.prefix)) continue;
        watch[o.entry].prefixes.push_back(o.prefix);  // in order: `all` is sorted
        last = &o.prefix;
    }
}

}  // namespace

std::vector<fw::ShortcutWatch> plan_shortcut_watch(const std::vector<const GroupModel*>& groups) {
    std::vector<fw::ShortcutWatch> out;
    for (const GroupModel* g : groups) watch_group(*g, out);
    std::sort(out.begin(), out.end(),
              [](const fw::ShortcutWatch& a, const fw::ShortcutWatch& b) { return a.counter < b.counter; });
    make_disjoint(out);
    return out;
}

}  // namespace avpn::planner
