#include "orchestrator/plan/wireguard_plan.hpp"

#include <algorithm>

#include "orchestrator/plan/group_plan.hpp"

namespace avpn::planner {

namespace {

uint16_t keepalive_for(const Intent& intent, const Group& g, const MemberView& peer) {
    if (intent.site.role == Role::spoke) return g.keepalive_seconds;
    if (intent.site.nat.mode == NatMode::automatic && peer.role == Role::hub) return g.keepalive_seconds;
    return 0;
}

}  // namespace

void plan_wireguard(const Intent& intent, const GroupModel& model, const Topology& topology,
                    DesiredState& state) {
    const Group& g = *model.group;
    add_tunnel_interface(model, nl::LinkKind::wireguard, 0, state);

    nl::WgDevice dev;
    dev.ifname = g.interface;
    dev.private_key.private_key_file = intent.site.key_file;
    // The public half is what a dump shows, so the reconciler can tell a
    // device holding the right key from a fresh one without reading secrets.
    dev.public_key = intent.site.public_key;
    dev.listen_port = g.listen_port;
    dev.fwmark = topology.full_tunnel ? g.table : 0;  // matched by the full-tunnel rule
    dev.peers.reserve(topology.peers.size());
    for (const PeerChoice& choice : topology.peers) {
        const MemberView& m = model.members[choice.member];
        nl::WgPeer peer;
        peer.public_key = *m.public_key;
        peer.endpoint = m.endpoint;
        peer.keepalive_seconds = keepalive_for(intent, g, m);
        peer.allowed_ips = choice.allowed;
        peer.site = *m.name;
        dev.peers.push_back(std::move(peer));
    }
    std::sort(dev.peers.begin(), dev.peers.end());  // public_key is WgPeer's first field
    state.wireguard.push_back(std::move(dev));
}

}  // namespace avpn::planner
