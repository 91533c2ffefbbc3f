#include "orchestrator/plan/peer_input.hpp"

#include "orchestrator/plan/routing.hpp"
#include "orchestrator/plan/wireguard_plan.hpp"
#include "orchestrator/plan/xfrm_plan.hpp"

namespace avpn::planner {

namespace {
size_t family_index(const Prefix& p) { return p.family() == Family::v4 ? 0 : 1; }
}  // namespace

GroupAggregates aggregate(const GroupConstants& c, const Prefix& tunnel_subnet,
                          const std::vector<PeerInput>& peers) {
    GroupAggregates a;
    a.routed[family_index(tunnel_subnet)] = true;
    for (const PeerInput& p : peers) {
        a.full_tunnel = a.full_tunnel || p.default_route;
        bool ready = c.transport != Transport::xfrm || xfrm_pending(c, p).empty();
        for (const Prefix& x : p.allowed) {
            size_t f = family_index(x);
            a.routed[f] = true;
            if (!x.is_default()) continue;
            a.default_routed[f] = true;
            a.default_ready[f] = a.default_ready[f] || ready;
        }
    }
    return a;
}

PeerPlan emit_peer(const GroupConstants& c, const PeerInput& in, nl::WgDevice* device, DesiredState& state) {
    PeerPlan p;
    p.group = c.group;
    p.site = in.name;
    p.role = std::string(to_string(in.role));
    p.public_key = in.public_key;
    p.tunnel_address = in.tunnel_address;
    p.allowed = in.allowed;
    p.endpoint = in.endpoint;
    p.default_route = in.default_route;
    if (in.shortcut) p.shortcut = *in.shortcut == ShortcutState::up ? "up" : "trying";  // answering too
    p.paths = in.paths;
    plan_peer_routes(c, in, state);
    if (c.transport == Transport::wireguard) {
        if (device) device->peers.push_back(wireguard_peer(c, in));
        for (size_t i = 1; i < in.paths; ++i) plan_path_peer(c, in, i, state);
    } else {
        p.pending = xfrm_pending(c, in);
        if (p.pending.empty()) plan_xfrm_peer(c, in, state);
        for (size_t i = 1; i < in.paths && i <= in.xfrm_paths.size(); ++i) plan_xfrm_path_peer(c, in, i, state);
    }
    return p;
}

}  // namespace avpn::planner
