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

uint32_t spi_tag(std::string_view group) {
    return uint32_t(stable_hash("spi-tag:" + std::string(group))) & kSpiTagMask;
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
void plan_session_sas(const GroupConstants& c, const PeerInput& peer, const IpAddr& local, const Endpoint& remote,
                      DesiredState& state) {
    auto with_session_key = [](nl::XfrmSa sa, uint64_t id) {
        sa.key = nl::KeyRef{};
        sa.key.session_key = id;
        return sa;
    };
    if (const auto& out = peer.sessions->outbound)
        state.xfrm_states.push_back(with_session_key(
            make_sa(local, remote.addr, out->spi, c.listen_port, remote.port, peer.reqid, c, {}, {}), out->key_id));
    for (const SessionSa& in : peer.sessions->inbound)
        state.xfrm_states.push_back(with_session_key(
            make_sa(remote.addr, local, in.spi, remote.port, c.listen_port, peer.reqid, c, {}, {}), in.key_id));
}

void plan_xfrm_peer(const GroupConstants& c, const PeerInput& peer, DesiredState& state) {
    const IpAddr local = *preferred_uplink_address(c.uplinks, peer.endpoint->addr.family);
    const Endpoint& remote = *peer.endpoint;
    if (peer.sessions) {
        plan_session_sas(c, peer, local, remote, state);
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
        KeyingGroupView& v = out.emplace_back();
        v.group = c.group;
        v.key_file = c.key_file;
        v.listen_port = c.listen_port;
        v.if_id = c.if_id;
        for (const PeerInput& p : g.peers)
            v.peers.push_back({p.name, p.public_key, p.endpoint,
                               {derive_spi(c.spi_tag, 0, p.slot, c.my_slot), derive_spi(c.spi_tag, 1, p.slot, c.my_slot)},
                               p.reqid});
    }
    return out;
}

void plan_xfrm_group(const GroupModel& model, const GroupConstants& c, const GroupAggregates& a,
                     DesiredState& state) {
    add_tunnel_interface(model, nl::LinkKind::xfrm, c.if_id, state);
    add_block_policies(a.routed, a.default_ready, c.if_id, state);
}

}  // namespace avpn::planner
