#include "orchestrator/plan/xfrm_plan.hpp"

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/group_plan.hpp"
#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/slot_allocator.hpp"
#include "orchestrator/plan/stable_hash.hpp"

namespace avpn::planner {

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

// What one peer's SAs and policies are built from.
struct PeerTunnel {
    IpAddr local;
    Endpoint remote;
    uint32_t reqid = 0;
    uint32_t spi_out = 0;
    uint32_t spi_in = 0;
    const std::string* peer_key = nullptr;
    std::string label_out;
    std::string label_in;
};

nl::XfrmSa make_sa(const IpAddr& src, const IpAddr& dst, uint32_t spi, uint16_t sport, uint16_t dport,
                   const PeerTunnel& t, uint32_t if_id, const std::string& key_file,
                   const std::string& label) {
    nl::XfrmSa sa;
    sa.src = src;
    sa.dst = dst;
    sa.spi = spi;
    sa.reqid = t.reqid;
    sa.if_id = if_id;
    sa.encap_sport = sport;
    sa.encap_dport = dport;
    sa.key = nl::KeyRef{key_file, *t.peer_key, 0, label};
    return sa;
}

nl::XfrmPolicy make_policy(const Prefix& src, const Prefix& dst, nl::XfrmDir dir, uint32_t if_id,
                           const IpAddr& outer_src, const IpAddr& outer_dst, uint32_t reqid) {
    nl::XfrmPolicy p;
    p.src = src;
    p.dst = dst;
    p.dir = dir;
    p.priority = own::kPolicyPriority;
    p.if_id = if_id;
    p.templates.push_back(nl::XfrmTemplate{outer_src, outer_dst, reqid, false});
    return p;
}

void add_peer_objects(const PeerTunnel& t, const PeerChoice& choice, const Intent& intent,
                      const Group& g, uint32_t if_id, DesiredState& state) {
    const std::string& key_file = intent.site.key_file;
    state.xfrm_states.push_back(make_sa(t.local, t.remote.addr, t.spi_out, g.listen_port, t.remote.port,
                                        t, if_id, key_file, t.label_out));
    state.xfrm_states.push_back(make_sa(t.remote.addr, t.local, t.spi_in, t.remote.port, g.listen_port,
                                        t, if_id, key_file, t.label_in));
    for (const Prefix& p : choice.allowed) {
        Prefix any = any_of(p.family());
        state.xfrm_policies.push_back(
            make_policy(any, p, nl::XfrmDir::out, if_id, t.local, t.remote.addr, t.reqid));
        state.xfrm_policies.push_back(
            make_policy(p, any, nl::XfrmDir::in, if_id, t.remote.addr, t.local, t.reqid));
        state.xfrm_policies.push_back(
            make_policy(p, any, nl::XfrmDir::fwd, if_id, t.remote.addr, t.local, t.reqid));
    }
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

void plan_xfrm(const Intent& intent, const GroupModel& model, const Topology& topology,
               const XfrmGroupInputs& in, std::vector<PeerPlan>& peer_plans, DesiredState& state,
               Errors& errors) {
    const Group& g = *model.group;
    add_tunnel_interface(model, nl::LinkKind::xfrm, in.if_id, state);
    const std::vector<uint32_t> slots = spi_slots(model, errors);
    const uint32_t tag = spi_tag(g.name);
    const MemberView& me = model.me();
    const uint32_t my_slot = slots[model.self];

    bool families[2] = {g.tunnel_subnet.family() == Family::v4,
                        g.tunnel_subnet.family() == Family::v6};
    bool default_allowed[2] = {false, false};
    size_t allowed = 0;
    for (const PeerChoice& choice : topology.peers) allowed += choice.allowed.size();
    state.xfrm_policies.reserve(state.xfrm_policies.size() + 3 * allowed + 2);
    state.xfrm_states.reserve(state.xfrm_states.size() + 2 * topology.peers.size());
    for (size_t k = 0; k < topology.peers.size(); ++k) {
        const PeerChoice& choice = topology.peers[k];
        const MemberView& peer = model.members[choice.member];
        for (const Prefix& p : choice.allowed) families[p.family() == Family::v4 ? 0 : 1] = true;
        if (!peer.endpoint) {
            peer_plans[k].pending = "no contact known for " + *peer.name;
            continue;
        }
        auto local = preferred_uplink_address(*in.uplinks, peer.endpoint->addr.family);
        if (!local) {
            peer_plans[k].pending = "no local uplink address of the contact's family";
            continue;
        }
        PeerTunnel t;
        t.local = *local;
        t.remote = *peer.endpoint;
        t.reqid = (*in.reqids)[k];
        t.spi_out = derive_spi(tag, 0, my_slot, slots[choice.member]);
        t.spi_in = derive_spi(tag, 0, slots[choice.member], my_slot);
        t.peer_key = peer.public_key;
        t.label_out = *me.name + "->" + *peer.name;
        t.label_in = *peer.name + "->" + *me.name;
        add_peer_objects(t, choice, intent, g, in.if_id, state);
        for (const Prefix& p : choice.allowed)
            if (p.is_default()) default_allowed[p.family() == Family::v4 ? 0 : 1] = true;
    }
    add_block_policies(families, default_allowed, in.if_id, state);
}

}  // namespace avpn::planner
