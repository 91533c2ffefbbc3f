#include "orchestrator/plan/xfrm_plan.hpp"

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/group_plan.hpp"
#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/slot_allocator.hpp"
#include "orchestrator/plan/stable_hash.hpp"

namespace avpn::planner {

// The operator may lower the soft limits (rekey_bytes, rekey_packets), never
// past the defaults: the rekey needs the quarter before the hard limit.
static_assert(kRekeyBytesMax == kSaSoftBytes && kRekeyPacketsMax == kSaSoftPackets);

uint32_t spi_tag(std::string_view group, size_t path) {
    // '/' is in no group name, so no group's tag is another's path's.
    std::string what = "spi-tag:" + std::string(group);
    if (path) what += "/" + std::to_string(path);
    return uint32_t(stable_hash(what)) & kSpiTagMask;
}

uint32_t derive_spi(uint32_t tag, uint32_t epoch, uint32_t sender_slot, uint32_t receiver_slot) {
    constexpr uint32_t kSlotMask = (uint32_t(1) << kSpiSlotBits) - 1;
    const uint32_t direction = sender_slot < receiver_slot ? 1u : 0u;
    return 0x40000000u | (epoch & 1u) << 29 | direction << 28 | (tag & kSpiTagMask) << kSpiSlotBits |
           ((sender_slot ^ receiver_slot) & kSlotMask);
}

std::vector<uint32_t> spi_slots(const GroupModel& model, Errors& errors) {
    const uint64_t space = uint64_t(1) << kSpiSlotBits;
    std::vector<uint32_t> out(model.members.size(), 0);
    if (model.members.size() > space) {
        errors.push_back({"allocate SPI slots", model.group->loc.str(),
                          "an XFRM group holds at most " + std::to_string(space) + " sites"});
        return out;
    }
    std::vector<SlotRequest> req(model.members.size());
    for (size_t i = 0; i < req.size(); ++i)
        req[i] = {*model.members[i].name, model.members[i].name_hash % space, std::nullopt};
    SlotAllocation alloc = allocate_slots(req, space);
    for (size_t i = 0; i < out.size(); ++i) out[i] = uint32_t(alloc.slots[i]);
    return out;
}

std::vector<uint32_t> allocate_reqids(const std::vector<std::string>& keys, Errors& errors) {
    const uint64_t space = uint64_t(own::kReqidLast) - own::kReqidFirst + 1;
    std::vector<uint32_t> out(keys.size(), 0);
    if (keys.size() > space) {
        errors.push_back({"allocate reqids", "", "more than " + std::to_string(space) +
                                                     " XFRM peers on one site"});
        return out;
    }
    std::vector<SlotRequest> req(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) req[i] = {keys[i], stable_hash(keys[i]) % space, std::nullopt};
    SlotAllocation alloc = allocate_slots(req, space);
    for (size_t i = 0; i < out.size(); ++i) out[i] = own::kReqidFirst + uint32_t(alloc.slots[i]);
    return out;
}

namespace {

Prefix any_of(Family f) {
    IpAddr a;
    a.family = f;
    return Prefix{a, 0};
}

nl::XfrmSa make_sa(const IpAddr& src, const IpAddr& dst, uint32_t spi, uint16_t sport, uint16_t dport,
                   uint32_t reqid, const GroupConstants& c, const std::string& peer_key,
                   std::string label) {
    nl::XfrmSa sa;
    sa.src = src;
    sa.dst = dst;
    sa.spi = spi;
    sa.reqid = reqid;
    sa.if_id = c.if_id;
    sa.encap_sport = sport;
    sa.encap_dport = dport;
    sa.key = nl::KeyRef{c.key_file, peer_key, 0, std::move(label)};
    sa.esn = true;
    sa.replay_window = kSaReplayWindow;
    sa.soft_bytes = c.rekey_bytes;
    sa.soft_packets = c.rekey_packets;
    sa.hard_bytes = kSaHardBytes;
    sa.hard_packets = kSaHardPackets;
    return sa;
}

// The kernel picks among matching policies by priority alone (then by
// insertion order), never by prefix length. Routes and allowed IPs choose the
// longest prefix, and the relay rule relies on it (a /32 tunnel address on one
// peer inside the /10 tunnel subnet on another, a member's /24 beside a full
// tunnel's 0/0), so the more specific selector gets the better priority.
uint32_t policy_priority(const Prefix& specific) {
    return own::kPolicyPriority + uint32_t(specific.addr.max_len() - specific.len);
}

nl::XfrmPolicy make_policy(const Prefix& src, const Prefix& dst, nl::XfrmDir dir, uint32_t if_id,
                           const IpAddr& outer_src, const IpAddr& outer_dst, uint32_t reqid) {
    nl::XfrmPolicy p;
    p.src = src;
    p.dst = dst;
    p.dir = dir;
    p.priority = policy_priority(dir == nl::XfrmDir::out ? dst : src);
    p.if_id = if_id;
    p.templates.push_back(nl::XfrmTemplate{outer_src, outer_dst, reqid, false});
    return p;
}

// Default drop for everything routed into the interface that no peer policy
// claims. Where a full tunnel's allow policy already has the 0/0 -> 0/0
// selector, it takes that place (the kernel keys policies by selector and
// if_id, not priority): its SA-less packets are dropped all the same.
void add_block_policies(const bool (&families)[2], const bool (&default_allowed)[2], uint32_t if_id,
                        DesiredState& state) {
    const Family fam[2] = {Family::v4, Family::v6};
    for (size_t f = 0; f < 2; ++f) {
        if (!families[f] || default_allowed[f]) continue;
        nl::XfrmPolicy p;
        p.src = any_of(fam[f]);
        p.dst = any_of(fam[f]);
        p.dir = nl::XfrmDir::out;
        p.priority = own::kPolicyDropPriority;
        p.action = nl::XfrmAction::block;
        p.if_id = if_id;
        state.xfrm_policies.push_back(p);
    }
}

}  // namespace

std::string xfrm_pending(const GroupConstants& c, const PeerInput& peer) {
    if (!peer.endpoint) return "no contact known for " + peer.name;
    if (!preferred_uplink_address(c.uplinks, peer.endpoint->addr.family))
        return "no local uplink address of the contact's family";
    return {};
}

// The SAs of a peer whose keys come from the handshake: the SPIs and key
// ids its key life cycle holds (PlanInputs::xfrm_sessions).
// Path i >= 1 (active-active) passes its own sessions, port and if_id.
void plan_session_sas(const GroupConstants& c, const XfrmSessionSas& sessions, uint32_t reqid, const IpAddr& local,
                      uint16_t local_port, const Endpoint& remote, uint32_t if_id, DesiredState& state) {
    auto with_session_key = [&](nl::XfrmSa sa, uint64_t id) {
        sa.key = nl::KeyRef{};
        sa.key.session_key = id;
        sa.if_id = if_id;
        return sa;
    };
    if (const auto& out = sessions.outbound)
        state.xfrm_states.push_back(with_session_key(
            make_sa(local, remote.addr, out->spi, local_port, remote.port, reqid, c, {}, {}), out->key_id));
    for (const SessionSa& in : sessions.inbound)
        state.xfrm_states.push_back(with_session_key(
            make_sa(remote.addr, local, in.spi, remote.port, local_port, reqid, c, {}, {}), in.key_id));
}

void plan_xfrm_peer(const GroupConstants& c, const PeerInput& peer, DesiredState& state) {
    const IpAddr local = *preferred_uplink_address(c.uplinks, peer.endpoint->addr.family);
    const Endpoint& remote = *peer.endpoint;
    if (peer.sessions) {
        plan_session_sas(c, *peer.sessions, peer.reqid, local, c.listen_port, remote, c.if_id, state);
    } else {
        const uint32_t spi_out = derive_spi(c.spi_tag, 0, c.my_slot, peer.slot);
        const uint32_t spi_in = derive_spi(c.spi_tag, 0, peer.slot, c.my_slot);
        state.xfrm_states.push_back(make_sa(local, remote.addr, spi_out, c.listen_port, remote.port, peer.reqid, c,
                                            peer.public_key, c.site + "->" + peer.name));
        state.xfrm_states.push_back(make_sa(remote.addr, local, spi_in, remote.port, c.listen_port, peer.reqid, c,
                                            peer.public_key, peer.name + "->" + c.site));
    }
    for (const Prefix& p : peer.allowed) {
        Prefix any = any_of(p.family());
        state.xfrm_policies.push_back(make_policy(any, p, nl::XfrmDir::out, c.if_id, local, remote.addr, peer.reqid));
        state.xfrm_policies.push_back(make_policy(p, any, nl::XfrmDir::in, c.if_id, remote.addr, local, peer.reqid));
        state.xfrm_policies.push_back(make_policy(p, any, nl::XfrmDir::fwd, c.if_id, remote.addr, local, peer.reqid));
    }
}

std::vector<KeyingGroupView> keying_views(const SitePieces& pieces) {
    std::vector<KeyingGroupView> out;
    for (const GroupPieces& g : pieces.groups) {
        const GroupConstants& c = g.constants;
        if (c.transport != Transport::xfrm) continue;
        for (size_t path = 0; path < c.paths; ++path) {
            KeyingGroupView& v = out.emplace_back();
            v.group = c.group;
            v.key_file = c.key_file;
            v.path = uint8_t(path);
            v.listen_port = uint16_t(c.listen_port + path);
            v.if_id = path ? c.path_if_id(path) : c.if_id;
            const uint32_t tag = path ? spi_tag(c.group, path) : c.spi_tag;
            for (const PeerInput& p : g.peers) {
                if (path >= p.paths) continue;
                // Path i's initiator starts at the contact; the other end
                // answers and learns where the path is (path_roamed).
                std::optional<Endpoint> at = p.endpoint;
                if (path) {
                    at.reset();
                    if (p.contact) at = Endpoint{p.contact->addr, uint16_t(p.contact->port + path)};
                }
                v.peers.push_back({p.name, p.public_key, at,
                                   {derive_spi(tag, 0, p.slot, c.my_slot), derive_spi(tag, 1, p.slot, c.my_slot)},
                                   p.reqid});
            }
        }
    }
    return out;
}

void plan_xfrm_path_peer(const GroupConstants& c, const PeerInput& peer, size_t path, DesiredState& state) {
    const XfrmPath& x = peer.xfrm_paths[path - 1];
    if (!x.endpoint || path >= c.path_uplinks.size()) return;
    const std::optional<IpAddr> found = preferred_uplink_address(c.path_uplinks[path], x.endpoint->addr.family);
    if (!found) return;
    const IpAddr& local = *found;
    const Endpoint& remote = *x.endpoint;
    const uint32_t if_id = c.path_if_id(path);
    const uint16_t port = uint16_t(c.listen_port + path);
    auto on_path = [&](nl::XfrmSa sa) {
        sa.if_id = if_id;
        state.xfrm_states.push_back(std::move(sa));
    };
    bool out_ready = true;
    if (x.sessions) {
        plan_session_sas(c, *x.sessions, peer.reqid, local, port, remote, if_id, state);
        out_ready = x.sessions->outbound.has_value();
    } else {
        const uint32_t tag = spi_tag(c.group, path);
        const std::string suffix = ".p" + std::to_string(path);
        on_path(make_sa(local, remote.addr, derive_spi(tag, 0, c.my_slot, peer.slot), port, remote.port, peer.reqid,
                        c, peer.public_key, c.site + "->" + peer.name + suffix));
        on_path(make_sa(remote.addr, local, derive_spi(tag, 0, peer.slot, c.my_slot), remote.port, port, peer.reqid,
                        c, peer.public_key, peer.name + "->" + c.site + suffix));
    }
    const std::string device = c.path_device(path);
    const uint32_t table = c.path_table_first + uint32_t(path);
    for (const Prefix& p : peer.path_allowed) {
        Prefix any = any_of(p.family());
        state.xfrm_policies.push_back(make_policy(p, any, nl::XfrmDir::in, if_id, remote.addr, local, peer.reqid));
        state.xfrm_policies.push_back(make_policy(p, any, nl::XfrmDir::fwd, if_id, remote.addr, local, peer.reqid));
        if (!out_ready) continue;
        state.xfrm_policies.push_back(make_policy(any, p, nl::XfrmDir::out, if_id, local, remote.addr, peer.reqid));
        state.routes.push_back(nl::Route{table, p, device, {}, {}, 0});
    }
}

void plan_xfrm_path_interfaces(const GroupConstants& c, const GroupAggregates& a, DesiredState& state) {
    for (size_t i = 1; i < c.paths; ++i) {
        nl::Link link;
        link.name = c.path_device(i);
        link.kind = nl::LinkKind::xfrm;
        link.xfrm_if_id = c.path_if_id(i);
        state.links.push_back(link);
        // Full tunnels do not spread (check refuses active_active with
        // one): path i's default-drop policies stand alone.
        const bool none[2] = {false, false};
        add_block_policies(a.routed, none, c.path_if_id(i), state);
    }
}

void plan_xfrm_group(const GroupModel& model, const GroupConstants& c, const GroupAggregates& a,
                     DesiredState& state) {
    add_tunnel_interface(model, nl::LinkKind::xfrm, c.if_id, state);
    add_block_policies(a.routed, a.default_ready, c.if_id, state);
}

}  // namespace avpn::planner
