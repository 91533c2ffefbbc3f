#include "orchestrator/plan/topology.hpp"

#include <algorithm>

#include "orchestrator/plan/normalize.hpp"

namespace avpn::planner {

namespace {

// Peers under construction: member index -> position in `peers`.
struct PeerSet {
    std::vector<PeerChoice> peers;
    std::vector<long> slot_of;  // -1: not a peer

    // Room for every member up front: callers hold references to peers
    // across add() (a spoke's home hub while its shortcuts are added).
    explicit PeerSet(size_t members) : slot_of(members, -1) { peers.reserve(members); }
    PeerChoice& add(size_t member) {
        if (slot_of[member] < 0) {
            slot_of[member] = long(peers.size());
            peers.push_back({member, {}, false});
        }
        return peers[size_t(slot_of[member])];
    }
    PeerChoice* find(size_t member) {
        return slot_of[member] < 0 ? nullptr : &peers[size_t(slot_of[member])];
    }
};

void carry_member(const GroupModel& model, size_t member, PeerChoice& peer) {
    const MemberView& m = model.members[member];
    peer.allowed.insert(peer.allowed.end(), m.exports->begin(), m.exports->end());
    peer.allowed.push_back(Prefix::host(m.tunnel_address));
}

void carry_default(const GroupModel& model, PeerChoice& peer) {
    IpAddr any4;
    peer.allowed.push_back(Prefix{any4, 0});
    if (model.has_v6_exports) {
        IpAddr any6;
        any6.family = Family::v6;
        peer.allowed.push_back(Prefix{any6, 0});
    }
    peer.default_route = true;
}

// A hub this site names (in hubs or exit_hubs): its index when it is an
// active hub. A member that is switched off is skipped quietly (maintenance);
// a name that is no hub of the group is a configuration error.
std::optional<size_t> named_hub(const GroupModel& model, const std::string& name,
                                const SourceLoc& loc, Errors& errors) {
    if (auto h = model.find_hub(name)) return h;
    auto m = model.find(name);
    if (m && *m != model.self && !model.members[*m].active()) return std::nullopt;
    errors.push_back({"choose hubs", loc.str(), name + " is not a hub of group " + model.group->name});
    return std::nullopt;
}

// This site's hubs, in its order, without repeats.
std::vector<size_t> own_hubs(const GroupModel& model, Errors& errors) {
    std::vector<size_t> hubs;
    for (const HubRef& ref : model.group->hubs) {
        auto h = named_hub(model, ref.name, ref.loc, errors);
        if (h && std::find(hubs.begin(), hubs.end(), *h) == hubs.end()) hubs.push_back(*h);
    }
    return hubs;
}

bool active_hub(const GroupModel& model, size_t i) { return model.members[i].role == Role::hub; }

// A dead hub (this site heard nothing from it) is unreachable for this site
// only; docs/planner.md ("Dead hubs") shows why that is enough.
bool reachable_hub(const GroupModel& model, size_t i) {
    const MemberView& m = model.members[i];
    return active_hub(model, i) && m.endpoint.has_value() && !m.dead;
}

// The exit (default-route) hub among `exits`, in the site's order: the first
// this site can reach; when it reaches none, nothing is known and the first
// stands, as in up(S). A dead exit hub would otherwise take the site's whole
// default route with it while another exit is up.
std::optional<size_t> first_reachable(const GroupModel& model, const std::vector<size_t>& exits) {
    for (size_t h : exits)
        if (reachable_hub(model, h)) return h;
    if (exits.empty()) return std::nullopt;
    return exits.front();
}

// A hub in a spoke's up-list, with its rank: its position among the active
// hubs the spoke lists (hubs(S) in docs/planner.md), unreachable ones counted.
struct UpHub {
    size_t hub = 0;
    size_t rank = 0;
};

// The hubs member `i` lists that are active, as indices with their rank, in
// its order, without repeats; with `reachable_only`, only the reachable ones
// (up(i) in the relay rule). This site is included when it is such a hub.
template <class Visit>
void visit_listed_hubs(const GroupModel& model, size_t i, bool reachable_only, Visit&& visit) {
    size_t rank = 0;
    const std::vector<HubRef>& refs = *model.members[i].hubs;
    for (size_t k = 0; k < refs.size(); ++k) {
        auto h = model.find(refs[k].name);
        if (!h || *h == i || !active_hub(model, *h)) continue;
        bool repeat = false;
        for (size_t j = 0; j < k && !repeat; ++j) repeat = refs[j].name == refs[k].name;
        if (repeat) continue;
        const size_t r = rank++;
        if (reachable_only && !reachable_hub(model, *h)) continue;
        if (visit(*h, r)) return;
    }
}

// up(i): the reachable hubs spoke `i` lists, in its order. When none is
// reachable, nothing is known and the configured order stands: every active
// hub it lists. Every site computes this alike for the hubs it peers with.
void up_hubs(const GroupModel& model, size_t spoke, std::vector<UpHub>& out) {
    out.clear();
    auto add = [&](size_t h, size_t rank) { return out.push_back({h, rank}), false; };
    visit_listed_hubs(model, spoke, true, add);
    if (out.empty()) visit_listed_hubs(model, spoke, false, add);
}

const UpHub* find_up(const std::vector<UpHub>& v, size_t hub) {
    for (const UpHub& u : v)
        if (u.hub == hub) return &u;
    return nullptr;
}

bool contains(const std::vector<UpHub>& v, size_t hub) { return find_up(v, hub) != nullptr; }

// meet(s, t): the hub both spokes have up with the smallest sum of ranks,
// ties to the smaller name. Symmetric, so both ends pick the same relay.
// The ranks are positions in the configured lists, not in the up-lists: a
// hub only one of the two can see die must not shift them (docs/planner.md,
// "Dead hubs").
std::optional<size_t> meeting_hub(const GroupModel& model, const std::vector<UpHub>& up_s,
                                  const std::vector<UpHub>& up_t) {
    std::optional<size_t> best;
    size_t best_cost = 0;
    for (const UpHub& t : up_t) {
        const UpHub* s = find_up(up_s, t.hub);
        if (!s) continue;
        const size_t cost = s->rank + t.rank;
        const size_t h = t.hub;
        if (!best || cost < best_cost || (cost == best_cost && *model.members[h].name < *model.members[*best].name)) {
            best = h;
            best_cost = cost;
        }
    }
    return best;
}

void carry_exports(const GroupModel& model, size_t member, PeerChoice& peer) {
    const MemberView& m = model.members[member];
    peer.allowed.insert(peer.allowed.end(), m.exports->begin(), m.exports->end());
}

void plan_spoke(const GroupModel& model, PeerSet& set, Errors& errors) {
    std::vector<size_t> hubs = own_hubs(model, errors);
    if (hubs.empty()) return;
    std::vector<UpHub> up, up_other;
    up_hubs(model, model.self, up);
    const size_t home = up.front().hub;
    for (size_t h : hubs) {
        PeerChoice& peer = set.add(h);
        if (contains(up, h)) carry_member(model, h, peer);
    }
    std::vector<size_t> exits;
    for (const HubRef& ref : model.group->hubs) {
        auto h = model.find_hub(ref.name);
        if (ref.default_route && h && set.find(*h)) exits.push_back(*h);
    }
    if (auto x = first_reachable(model, exits)) carry_default(model, *set.find(*x));
    PeerChoice& via_home = set.add(home);
    via_home.allowed.push_back(model.group->tunnel_subnet);
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || !m.active()) continue;
        if (m.role == Role::hub) {
            if (!contains(up, i)) carry_exports(model, i, via_home);
            continue;
        }
        if (m.shortcut && m.endpoint) {
            PeerChoice& direct = set.add(i);
            direct.shortcut = m.shortcut;
            if (*m.shortcut == ShortcutState::up) {
                carry_member(model, i, direct);
                continue;
            }
        }
        up_hubs(model, i, up_other);
        auto meet = meeting_hub(model, up, up_other);
        if (!meet || *meet == home)
            carry_exports(model, i, via_home);  // the tunnel subnet covers its address
        else
            carry_member(model, i, *set.find(*meet));
    }
}

bool lists_hub(const MemberView& spoke, const std::string& hub) {
    for (const HubRef& ref : *spoke.hubs)
        if (ref.name == hub) return true;
    return false;
}

void plan_hub(const GroupModel& model, PeerSet& set, Errors& errors) {
    const std::string& me = *model.me().name;
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || !m.active()) continue;
        if (m.role == Role::hub) carry_member(model, i, set.add(i));
        if (m.role == Role::spoke && lists_hub(m, me)) set.add(i);
    }
    // A spoke that has this hub up carries its own prefixes; any other spoke
    // is reached through its home hub, as it sends through that hub itself.
    std::vector<UpHub> up;
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || m.role != Role::spoke) continue;
        up_hubs(model, i, up);
        if (up.empty()) continue;  // lists no active hub: no member reaches it
        PeerChoice* carrier = contains(up, model.self) ? set.find(i) : set.find(up.front().hub);
        if (carrier) carry_member(model, i, *carrier);
    }
    std::vector<size_t> exits;
    for (const std::string& exit : model.group->exit_hubs) {
        auto h = named_hub(model, exit, model.group->loc, errors);
        if (h && set.find(*h)) exits.push_back(*h);
    }
    if (auto x = first_reachable(model, exits)) carry_default(model, *set.find(*x));
}

}  // namespace

Topology choose_peers(const GroupModel& model, Errors& errors) {
    PeerSet set(model.members.size());
    if (model.me().role == Role::spoke) plan_spoke(model, set, errors);
    if (model.me().role == Role::hub) plan_hub(model, set, errors);
    Topology t;
    for (PeerChoice& p : set.peers) {
        sort_unique(p.allowed);
        t.full_tunnel = t.full_tunnel || p.default_route;
    }
    t.peers = std::move(set.peers);
    std::sort(t.peers.begin(), t.peers.end(),
              [](const PeerChoice& a, const PeerChoice& b) { return a.member < b.member; });
    return t;
}

}  // namespace avpn::planner
