#include "orchestrator/plan/wireguard_plan.hpp"

#include "orchestrator/plan/group_plan.hpp"

namespace avpn::planner {

namespace {

// None while the peer has no endpoint: there is nowhere to send it, and its
// arrival (a contact from the registries) then turns the keepalive on, on
// which the kernel's WireGuard and wireguard-go both send one at once (they
// do on a change from 0 only), so the handshake starts the moment the
// contact is known instead of at the next retry, up to 5 s later: both
// sites of a pair get each other's contact pushed together and send first,
// which is the hole punch (docs/registry.md, "In avpnd").
//
// Two hubs behind NATs both keep their pair alive. The one with the larger
// name does it a second less often: two initiations that cross reset both
// ends' keepalive timers, and at equal periods (short ones above all, at or
// below WireGuard's 5 s retry) the two can cross again every round and stay
// without a session for minutes (seen with wireguard-go; docs/shortcuts.md,
// "The punch", where shortcuts avoid it with one initiator).
uint16_t keepalive_for(const GroupConstants& c, const PeerInput& peer) {
    if (!peer.endpoint || peer.shortcut == ShortcutState::answering) return 0;
    if (c.site_role == Role::spoke) return c.keepalive_seconds;
    if (c.nat_mode == NatMode::automatic && peer.role == Role::hub) {
        const bool later = c.site > peer.name && c.keepalive_seconds != 0 && c.keepalive_seconds < 65535;
        return uint16_t(c.keepalive_seconds + (later ? 1 : 0));
    }
    return 0;
}

}  // namespace

nl::WgDevice plan_wireguard_device(const Intent& intent, const GroupModel& model, const GroupAggregates& a,
                                    uint32_t steering_mark, DesiredState& state) {
    const Group& g = *model.group;
    add_tunnel_interface(model, nl::LinkKind::wireguard, 0, state);
    nl::WgDevice dev;
    dev.ifname = g.interface;
    dev.private_key.private_key_file = intent.site.key_file;
    // The public half is what a dump shows, so the reconciler can tell a
    // device holding the right key from a fresh one without reading secrets.
    dev.public_key = intent.site.public_key;
    dev.listen_port = g.listen_port;
    // Matched by the full-tunnel rule, and by the steering rule of the
    // active uplink.
    dev.fwmark = steering_mark ? steering_mark : a.full_tunnel ? g.table : 0;
    return dev;
}

nl::WgPeer wireguard_peer(const GroupConstants& c, const PeerInput& in) {
    nl::WgPeer peer;
    peer.public_key = in.public_key;
    peer.endpoint = in.endpoint;
    peer.keepalive_seconds = keepalive_for(c, in);
    peer.allowed_ips = in.allowed;
    peer.site = in.name;
    return peer;
}

void plan_path_devices(const Intent& intent, const GroupModel& model, const GroupConstants& c,
                       const std::vector<uint32_t>& path_marks, DesiredState& state) {
    const Group& g = *model.group;
    for (size_t i = 1; i < c.paths; ++i) {
        nl::Link link;
        link.name = c.path_device(i);
        link.kind = nl::LinkKind::wireguard;
        link.wg_impl = wg_impl_of(g);
        state.links.push_back(link);
        nl::WgDevice dev;
        dev.ifname = link.name;
        dev.private_key.private_key_file = intent.site.key_file;
        dev.public_key = intent.site.public_key;
        dev.listen_port = uint16_t(g.listen_port + i);
        dev.fwmark = i < path_marks.size() ? path_marks[i] : 0;
        state.wireguard.push_back(std::move(dev));
    }
}

void plan_path_peer(const GroupConstants& c, const PeerInput& in, size_t path, DesiredState& state) {
    const std::string device = c.path_device(path);
    const uint32_t table = c.path_table_first + uint32_t(path);
    for (const Prefix& p : in.path_allowed) state.routes.push_back(nl::Route{table, p, device, {}, {}, 0});
    for (nl::WgDevice& d : state.wireguard) {
        if (d.ifname != device) continue;
        nl::WgPeer peer;
        peer.public_key = in.public_key;
        if (in.contact) peer.endpoint = Endpoint{in.contact->addr, uint16_t(in.contact->port + path)};
        // The spreading end keeps every path up from its uplink, so a flow
        // hashed onto a path finds a session; the other end learns where
        // each path is from its packets.
        peer.keepalive_seconds = peer.endpoint ? c.keepalive_seconds : 0;
        peer.allowed_ips = in.path_allowed;
        peer.site = in.name;
        d.peers.push_back(std::move(peer));
        return;
    }
}

}  // namespace avpn::planner
