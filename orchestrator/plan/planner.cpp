#include "orchestrator/plan/planner.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/group_model.hpp"
#include "orchestrator/plan/firewall_plan.hpp"
#include "orchestrator/plan/group_plan.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"
#include "orchestrator/plan/normalize.hpp"
#include "orchestrator/plan/prefix_subtract.hpp"
#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/shortcut_watch.hpp"
#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/plan/topology.hpp"
#include "orchestrator/plan/wireguard_plan.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

namespace avpn {

namespace {

using namespace planner;

// One group, decided but not yet emitted.
struct GroupWork {
    std::unique_ptr<GroupModel> model = std::make_unique<GroupModel>();
    Topology topology;
    std::vector<uint32_t> reqids;  // XFRM: one per topology peer
    const Group& group() const { return *model->group; }
    uint32_t if_id() const { return own::kIfIdFirst + uint32_t(model->group_index); }
};

std::vector<GroupWork> decide_groups(const Intent& intent, const PlanInputs& inputs,
                                     const SiteAllocations* previous, Errors& errors) {
    std::vector<GroupWork> work;
    if (intent.site.role == Role::off) return work;
    for (size_t i = 0; i < intent.groups.size(); ++i) {
        GroupWork w;
        std::shared_ptr<const GroupAllocations> before;
        if (previous)
            if (auto it = previous->groups.find(intent.groups[i].name); it != previous->groups.end())
                before = it->second;
        if (!build_group_model(intent, i, inputs, before, *w.model, errors)) continue;
        if (intent.groups[i].transport == Transport::xfrm && w.if_id() >= kInteropIfIdFirst) {
            errors.push_back({"allocate if_ids", intent.groups[i].loc.str(), "too many groups"});
            continue;
        }
        if (intent.groups[i].transport == Transport::xfrm && most_paths(intent.groups[i]) > 1 &&
            own::path_if_id(i, own::kPathsPerGroup - 1) > own::kIfIdLast) {
            errors.push_back({"allocate if_ids", intent.groups[i].loc.str(),
                              "XFRM groups with paths must be among a site's first 64 groups"});
            continue;
        }
        w.topology = choose_peers(*w.model, errors);
        work.push_back(std::move(w));
    }
    return work;
}

// reqids are per site, across all XFRM groups: one allocation for all peers.
std::shared_ptr<const ReqidAllocation> assign_reqids(std::vector<GroupWork>& work, const SiteAllocations* previous,
                                                     Errors& errors) {
    std::vector<std::string> keys;
    for (const GroupWork& w : work) {
        if (w.group().transport != Transport::xfrm) continue;
        for (const PeerChoice& p : w.topology.peers)
            keys.push_back(w.group().name + "/" + *w.model->members[p.member].name);
    }
    std::shared_ptr<const ReqidAllocation> allocation;
    if (previous && previous->reqids && previous->reqids->keys == keys) {
        allocation = previous->reqids;
    } else {
        auto fresh = std::make_shared<ReqidAllocation>();
        fresh->reqids = allocate_reqids(keys, errors);
        fresh->keys = std::move(keys);
        allocation = std::move(fresh);
    }
    const std::vector<uint32_t>& reqids = allocation->reqids;
    size_t next = 0;
    for (GroupWork& w : work) {
        if (w.group().transport != Transport::xfrm) continue;
        w.reqids.assign(reqids.begin() + long(next), reqids.begin() + long(next + w.topology.peers.size()));
        next += w.topology.peers.size();
    }
    return allocation;
}

// Two XFRM groups of one site, or two paths of them, must not share an SPI
// tag: their SAs could then meet in the kernel's (destination, SPI) table.
void check_spi_tags(const std::vector<GroupWork>& work, Errors& errors) {
    struct Tagged {
        const Group* group;
        size_t path;
        uint32_t tag;
    };
    std::vector<Tagged> tags;
    for (const GroupWork& w : work)
        if (w.group().transport == Transport::xfrm)
            for (size_t i = 0; i < most_paths(w.group()); ++i)
                tags.push_back({&w.group(), i, spi_tag(w.group().name, i)});
    auto name = [](const Tagged& t) {
        return t.path ? t.group->name + "'s path " + std::to_string(t.path) : t.group->name;
    };
    for (size_t i = 0; i < tags.size(); ++i)
        for (size_t j = 0; j < i; ++j) {
            if (tags[i].tag != tags[j].tag) continue;
            errors.push_back({"derive SPIs", tags[i].group->loc.str(),
                              "XFRM group " + name(tags[j]) + " and group " + name(tags[i]) +
                                  " hash to the same SPI tag; rename a group"});
        }
}

GroupConstants constants_of(const Intent& intent, const GroupWork& w, const std::vector<IpAddr>& uplinks,
                            const std::vector<uint32_t>& slots) {
    const Group& g = w.group();
    GroupConstants c;
    c.group = g.name;
    c.transport = g.transport;
    c.interface = g.interface;
    c.table = g.table;
    c.site = intent.site.name;
    c.site_role = intent.site.role;
    c.nat_mode = intent.site.nat.mode;
    c.keepalive_seconds = g.keepalive_seconds;
    c.path_table_first = own::path_table(w.model->group_index, 0);
    if (g.transport == Transport::xfrm) {
        c.key_file = intent.site.key_file;
        c.listen_port = g.listen_port;
        c.if_id = w.if_id();
        c.spi_tag = spi_tag(g.name, 0);
        c.path_if_id_first = own::path_if_id(w.model->group_index, 0);
        c.my_slot = slots[w.model->self];
        c.uplinks = uplinks;
        c.rekey_bytes = g.rekey_bytes.value_or(kSaSoftBytes);
        c.rekey_packets = g.rekey_packets.value_or(kSaSoftPackets);
    }
    return c;
}

// Tunnels this site runs with a peer (docs/uplinks.md "Active-active"): the
// larger `paths` of the two member-list entries, which both ends read. The
// end that spreads over its uplinks initiates every path, at the other
// end's member-list contact with port + i (the registries learn only path
// 0's port), so the other end must have one and run a single path itself:
// otherwise, as for a shortcut, the pair runs one path.
uint8_t pair_paths(const GroupModel& model, const MemberView& peer) {
    const MemberView& me = model.me();
    if (peer.shortcut) return 1;
    if (me.paths > 1 && peer.paths > 1) return 1;  // both spread: per-uplink contacts are not built
    const MemberView& fixed = me.paths > 1 ? peer : me;
    const bool reachable = fixed.contact && *fixed.contact;
    return reachable ? std::max(me.paths, peer.paths) : uint8_t(1);
}

// XFRM path i of a pair: where its handshakes came from, else where this
// end starts them; its SAs in avpnd.
XfrmPath xfrm_path_of(const PlanInputs& inputs, const std::string& group, const PeerInput& p, uint8_t path) {
    XfrmPath x;
    const PlanInputs::PathKey key{group, p.name, path};
    if (auto r = inputs.path_roamed.find(key); r != inputs.path_roamed.end())
        x.endpoint = r->second;
    else if (p.contact)
        x.endpoint = Endpoint{p.contact->addr, uint16_t(p.contact->port + path)};
    if (inputs.xfrm_handshake) {
        auto s = inputs.xfrm_path_sessions.find(key);
        x.sessions = s != inputs.xfrm_path_sessions.end() ? s->second : XfrmSessionSas{};
    }
    return x;
}

GroupPieces pieces_of(const Intent& intent, const PlanInputs& inputs, GroupWork& w,
                      const std::vector<IpAddr>& uplinks) {
    const GroupModel& model = *w.model;
    const bool xfrm = w.group().transport == Transport::xfrm;
    const std::vector<uint32_t>& slots = model.allocations->spi_slots;
    GroupPieces out;
    out.constants = constants_of(intent, w, uplinks, slots);
    out.peers.reserve(w.topology.peers.size());
    for (size_t k = 0; k < w.topology.peers.size(); ++k) {
        PeerChoice& choice = w.topology.peers[k];
        const MemberView& m = model.members[choice.member];
        PeerInput p;
        p.name = *m.name;
        p.role = m.role;
        p.public_key = *m.public_key;
        p.endpoint = m.endpoint;
        p.tunnel_address = m.tunnel_address;
        p.allowed = std::move(choice.allowed);
        p.default_route = choice.default_route;
        p.shortcut = choice.shortcut;
        p.paths = pair_paths(model, m);
        if (p.paths > 1 && m.paths <= 1) p.contact = *m.contact;  // this end initiates the paths
        out.constants.paths = std::max(out.constants.paths, p.paths);
        if (xfrm) {
            p.reqid = w.reqids[k];
            p.slot = slots[choice.member];
            if (inputs.xfrm_handshake) {
                auto s = inputs.xfrm_sessions.find({w.group().name, p.name});
                p.sessions = s != inputs.xfrm_sessions.end() ? s->second : XfrmSessionSas{};
            }
            for (uint8_t i = 1; i < p.paths; ++i) p.xfrm_paths.push_back(xfrm_path_of(inputs, w.group().name, p, i));
        }
        out.peers.push_back(std::move(p));
    }
    if (xfrm)
        for (size_t i = 0; i < out.constants.paths; ++i)
            out.constants.path_uplinks.push_back(path_uplink_addresses(intent, inputs, uplinks, i));
    // A path table holds only what the group's table routes to its peers:
    // a multi-path peer's prefix that holds another peer's (a hub's tunnel
    // subnet, a default route) leaves a hole for every peer that runs fewer
    // paths, or flows on a path that peer lacks would reach its addresses
    // through the wrong one. Where both run path i, the other's own, more
    // specific route in table i wins; where it does not, the hole falls
    // through to path 0.
    if (out.constants.paths > 1) {
        std::map<uint8_t, std::vector<Prefix>> by_paths;  // peers' prefixes by how many paths they run
        for (const PeerInput& p : out.peers) {
            std::vector<Prefix>& to = by_paths[p.paths];
            to.insert(to.end(), p.allowed.begin(), p.allowed.end());
        }
        std::map<uint8_t, std::vector<Prefix>> fewer;  // n -> prefixes of peers with fewer than n paths
        std::vector<Prefix> below;
        for (auto& [n, prefixes] : by_paths) {
            std::sort(below.begin(), below.end());
            fewer[n] = below;
            below.insert(below.end(), prefixes.begin(), prefixes.end());
        }
        for (PeerInput& p : out.peers)
            if (p.paths > 1) p.path_allowed = subtract_prefixes(p.allowed, fewer[p.paths]);
    }
    return out;
}

// The group-wide objects: everything of the group that is not per peer.
void emit_shared(const Intent& intent, const GroupWork& w, const GroupPieces& pieces,
                 const std::vector<IpAddr>& uplinks, const std::optional<UplinkSteering>& steering,
                 DesiredState& state, Errors& errors) {
    const GroupModel& model = *w.model;
    GroupAggregates a = aggregate(pieces.constants, w.group().tunnel_subnet, pieces.peers);
    state.groups.push_back(describe_group(intent, model, w.topology));
    plan_group_routing(w.group(), a, uplinks, steering ? &*steering : nullptr, state, errors);
    if (w.group().transport == Transport::wireguard) {
        state.wireguard.push_back(plan_wireguard_device(intent, model, a, steering ? steering->mark : 0, state));
        if (pieces.constants.paths > 1) {
            // Without active_active here (a peer runs the paths), every path
            // leaves as the group's device does.
            std::vector<uint32_t> marks(pieces.constants.paths, state.wireguard.back().fwmark);
            if (steering && !steering->path_marks.empty())
                for (size_t i = 0; i < marks.size(); ++i) marks[i] = steering->path_marks[i];
            plan_path_devices(intent, model, pieces.constants, marks, state);
            plan_path_rules(w.group(), a, pieces.constants.paths, pieces.constants.path_table_first, state);
        }
    } else {
        plan_xfrm_group(model, pieces.constants, a, state);
        if (pieces.constants.paths > 1) {
            plan_xfrm_path_interfaces(pieces.constants, a, state);
            plan_path_rules(w.group(), a, pieces.constants.paths, pieces.constants.path_table_first, state);
        }
    }
}

// The uplink guard (docs/uplinks.md): while the plan steers, WireGuard
// datagrams that arrive on an uplink the tunnels do not use are dropped.
// A WireGuard device learns its source address and interface from every
// packet it receives; a peer's packet still on its way to the old uplink
// after a switch would set that one again, and wireguard-go, which sends
// with the interface it cached (IP_PKTINFO) whatever table the device's
// fwmark picks, would then leave by the old uplink and the peer roam back
// there: both stuck on it while traffic flows. XFRM's SAs follow the plan
// and its roaming only authenticated handshakes, so it needs none.
//
// Each WireGuard device is guarded on its own: with active_active, path i's
// device leaves by its own uplink and takes its port's datagrams there only.
void add_uplink_guard(const Intent& intent, const PlanInputs& inputs, bool steering, DesiredState& state) {
    if (!steering || !state.firewall || !inputs.active_uplinks || inputs.active_uplinks->empty()) return;
    const std::vector<Uplink>& uplinks = intent.site.uplinks;
    std::map<size_t, std::vector<uint16_t>> ports_by_uplink;  // the uplink a device leaves by -> its ports
    for (const nl::WgDevice& d : state.wireguard)
        if (d.fwmark >= own::kUplinkTableBase && d.fwmark < own::kUplinkTableBase + uplinks.size())
            ports_by_uplink[d.fwmark - own::kUplinkTableBase].push_back(d.listen_port);
    for (auto& [used, ports] : ports_by_uplink) {
        std::vector<std::string> idle;
        for (size_t i = 0; i < uplinks.size(); ++i)
            if (uplinks[i].interface != uplinks[used].interface) idle.push_back(uplinks[i].interface);
        if (idle.empty()) continue;
        std::sort(ports.begin(), ports.end());
        ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
        std::sort(idle.begin(), idle.end());
        idle.erase(std::unique(idle.begin(), idle.end()), idle.end());
        for (Family f : {Family::v4, Family::v6}) {
            fw::Rule r;
            r.family = f;
            r.iifnames = idle;
            r.protocol = "udp";
            r.dports = ports;
            r.verdict = fw::Verdict::drop;
            state.firewall->input.push_back(std::move(r));
        }
    }
}

// Every active member of every group but this site: what site: and the
// peer side of the firewall resolve to (firewall_plan.hpp).
std::vector<fw::PeerSite> firewall_peers(const std::vector<GroupWork>& work) {
    std::vector<fw::PeerSite> out;
    for (const GroupWork& w : work)
        for (size_t i = 0; i < w.model->members.size(); ++i) {
            const MemberView& m = w.model->members[i];
            if (i != w.model->self && m.active()) out.push_back({*m.name, *m.exports, m.tunnel_address});
        }
    return out;
}

// Active-active (docs/uplinks.md, "Per flow"): the groups that run more than
// one path here, with what their multi-path peers carry. A prefix inside
// another is left out: nftables' interval sets refuse overlaps, and the
// larger one already matches it.
std::vector<fw::PathSpread> path_spreads(const std::vector<GroupPieces>& groups) {
    std::vector<fw::PathSpread> out;
    for (const GroupPieces& g : groups) {
        if (g.constants.paths < 2) continue;
        fw::PathSpread spread;
        spread.group = g.constants.group;
        spread.first_mark = g.constants.path_table_first;
        spread.devices.push_back(g.constants.interface);
        for (size_t i = 1; i < g.constants.paths; ++i) spread.devices.push_back(g.constants.path_device(i));
        std::vector<Prefix> all;
        for (const PeerInput& p : g.peers)
            if (p.paths > 1) all.insert(all.end(), p.path_allowed.begin(), p.path_allowed.end());
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        // Sorted by address, then length: a prefix that holds another comes
        // before it and before everything else inside it.
        std::optional<Prefix> last[2];
        for (const Prefix& p : all) {
            std::optional<Prefix>& l = last[p.family() == Family::v4 ? 0 : 1];
            if (l && l->contains(p)) continue;
            l = p;
            spread.remote.push_back(p);
        }
        std::sort(spread.remote.begin(), spread.remote.end());
        out.push_back(std::move(spread));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.group < b.group; });
    return out;
}

InteropRouting interop_routing(const std::vector<GroupWork>& work) {
    InteropRouting r;
    const Group* first = nullptr;
    for (const GroupWork& w : work) {
        if (!first || w.group().rule_priority < first->rule_priority) first = &w.group();
        if (w.group().transport == Transport::xfrm) r.group_if_ids.push_back(w.if_id());
    }
    if (first) {
        r.table = first->table;
        r.own_rule = false;
    }
    return r;
}

}  // namespace

namespace planner {

void check_conflicts(const DesiredState& s, Errors& errors) {
    for (size_t i = 1; i < s.links.size(); ++i)
        if (s.links[i].name == s.links[i - 1].name)
            errors.push_back({"plan interfaces", s.links[i].name, "two tunnels want this interface name"});
    for (size_t i = 1; i < s.routes.size(); ++i) {
        const nl::Route& a = s.routes[i - 1];
        const nl::Route& b = s.routes[i];
        if (a.table == b.table && a.dst == b.dst && a.metric == b.metric)
            errors.push_back({"plan routes", "table " + std::to_string(b.table) + " " + b.dst.str(),
                              "routed both via " + a.ifname + " and via " + b.ifname});
    }
}

void normalize(DesiredState& s) {
    sort_unique(s.groups);
    sort_unique(s.peers);
    sort_unique(s.links);
    sort_unique(s.addresses);
    for (nl::WgDevice& d : s.wireguard) sort_unique(d.peers);
    sort_unique(s.wireguard);
    sort_unique(s.xfrm_states);
    sort_unique(s.xfrm_policies);
    sort_unique(s.routes);
    sort_unique(s.rules);
    sort_unique(s.ipsec);
}

SitePieces decide(const Intent& intent, const PlanInputs& inputs, const SiteAllocations* previous) {
    SitePieces out;
    out.shared.site = intent.site.name;
    const std::vector<IpAddr> uplinks = known_uplink_addresses(intent, inputs);
    const std::optional<UplinkSteering> steering = uplink_steering(intent, inputs);
    std::vector<GroupWork> work = decide_groups(intent, inputs, previous, out.errors);
    out.allocations.reqids = assign_reqids(work, previous, out.errors);
    check_spi_tags(work, out.errors);
    for (GroupWork& w : work) {
        out.allocations.groups[w.group().name] = w.model->allocations;
        out.groups.push_back(pieces_of(intent, inputs, w, uplinks));
        emit_shared(intent, w, out.groups.back(), uplinks, steering, out.shared, out.errors);
    }
    if (!work.empty()) plan_uplink_steering(intent, inputs, out.shared);
    plan_ipsec(intent, inputs, interop_routing(work), out.shared, out.errors);
    if (intent.site.role != Role::off) {
        out.allocations.firewall =
            fw::plan_firewall_reusing(intent, firewall_peers(work), previous ? previous->firewall : nullptr);
        out.shared.firewall = out.allocations.firewall->table;
        // Outside the reused table, like the uplink guard: it reads roles and
        // hub lists, which plan_firewall_reusing does not compare.
        std::vector<const GroupModel*> models;
        for (const GroupWork& w : work) models.push_back(w.model.get());
        out.shared.firewall->shortcut_watch = plan_shortcut_watch(models);
        out.shared.firewall->paths = path_spreads(out.groups);
        out.errors.insert(out.errors.end(), out.allocations.firewall->errors.begin(),
                          out.allocations.firewall->errors.end());
        add_uplink_guard(intent, inputs, steering.has_value(), out.shared);
    }
    return out;
}

nl::WgDevice* device_of(DesiredState& state, const GroupConstants& group) {
    for (nl::WgDevice& d : state.wireguard)
        if (d.ifname == group.interface) return &d;
    return nullptr;
}

void emit_peers(const std::vector<GroupPieces>& groups, DesiredState& state, Errors& errors) {
    // Room up front: a 10,000-spoke XFRM hub emits 150,000 policies.
    size_t peers = 0, prefixes = 0;
    for (const GroupPieces& g : groups) {
        peers += g.peers.size();
        for (const PeerInput& p : g.peers) prefixes += p.allowed.size();
    }
    state.peers.reserve(state.peers.size() + peers);
    state.routes.reserve(state.routes.size() + prefixes);
    for (const GroupPieces& g : groups)
        if (g.constants.transport == Transport::xfrm) {
            state.xfrm_states.reserve(state.xfrm_states.size() + 2 * peers);
            state.xfrm_policies.reserve(state.xfrm_policies.size() + 3 * prefixes);
            break;
        }
    for (const GroupPieces& g : groups) {
        nl::WgDevice* device = device_of(state, g.constants);
        if (device) device->peers.reserve(g.peers.size());
        for (const PeerInput& p : g.peers) state.peers.push_back(emit_peer(g.constants, p, device, state));
    }
    normalize(state);
    check_conflicts(state, errors);
}

}  // namespace planner

PlanOutcome plan(const Intent& intent, const PlanInputs& inputs) {
    SitePieces pieces = decide(intent, inputs);
    PlanOutcome out;
    out.state = std::move(pieces.shared);
    out.errors = std::move(pieces.errors);
    emit_peers(pieces.groups, out.state, out.errors);
    return out;
}

}  // namespace avpn
