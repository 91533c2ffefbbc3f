#include "orchestrator/plan/topology.hpp"

#include <algorithm>

#include "orchestrator/plan/normalize.hpp"

namespace avpn::planner {

namespace {

// Peers under construction: member index -> position in `peers`.
struct PeerSet {
    std::vector<PeerChoice> peers;
    std::vector<long> slot_of;  // -1: not a peer

    explicit PeerSet(size_t members) : slot_of(members, -1) {}
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

void plan_spoke(const GroupModel& model, PeerSet& set, Errors& errors) {
    std::vector<size_t> hubs = own_hubs(model, errors);
    if (hubs.empty()) return;
    size_t primary = hubs.front();
    for (size_t h : hubs)
        if (model.members[h].endpoint) {
            primary = h;
            break;
        }
    for (size_t h : hubs) carry_member(model, h, set.add(h));
    for (const HubRef& ref : model.group->hubs) {
        auto h = model.find_hub(ref.name);
        if (ref.default_route && h && set.find(*h)) {
            carry_default(model, *set.find(*h));
            break;
        }
    }
    PeerChoice& via = set.add(primary);
    via.allowed.push_back(model.group->tunnel_subnet);
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || !m.active() || set.find(i)) continue;
        via.allowed.insert(via.allowed.end(), m.exports->begin(), m.exports->end());
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
        if (m.role == Role::hub || lists_hub(m, me)) carry_member(model, i, set.add(i));
    }
    // Spokes that do not list this hub are reached through their own first hub.
    for (size_t i = 0; i < model.members.size(); ++i) {
        const MemberView& m = model.members[i];
        if (i == model.self || m.role != Role::spoke || set.find(i)) continue;
        for (const HubRef& ref : *m.hubs) {
            auto h = model.find_hub(ref.name);
            if (!h || !set.find(*h)) continue;
            carry_member(model, i, *set.find(*h));
            break;
        }
    }
    for (const std::string& exit : model.group->exit_hubs) {
        auto h = named_hub(model, exit, model.group->loc, errors);
        if (h && set.find(*h)) {
            carry_default(model, *set.find(*h));
            return;
        }
    }
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
