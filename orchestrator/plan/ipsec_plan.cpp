#include "orchestrator/plan/ipsec_plan.hpp"

#include <algorithm>

#include "orchestrator/plan/normalize.hpp"
#include "orchestrator/plan/slot_allocator.hpp"
#include "orchestrator/plan/stable_hash.hpp"

namespace avpn::planner {

Proposals partner_proposals(IpsecPartner partner) {
    switch (partner) {
        case IpsecPartner::aws:
            return {{"aes256-sha256-modp2048", "aes128-sha1-modp2048"},
                    {"aes256-sha256-modp2048", "aes128-sha1-modp2048"}};
        case IpsecPartner::azure:
            return {{"aes256-sha256-modp2048", "aes256-sha256-modp1024"}, {"aes256-sha256", "aes256-sha1"}};
        case IpsecPartner::generic:
            break;
    }
    // strongSwan 5.9.8's (Debian 12) own defaults as charon sends them with
    // the plugins of the userspace test setup (aes, sha1, sha2, hmac, gmp):
    // no GCM, no curve25519 or ECP groups, which those lack. Written out so
    // the plan shows what goes to the peer (docs/vici.md).
    return {{"aes128-aes192-aes256-sha256-sha384-sha512-sha1-modp3072-modp4096-modp6144-modp8192-modp2048"},
            {"aes128-aes192-aes256-sha256-sha384-sha512-sha1"}};
}

namespace {

bool route_based(const IpsecTunnel& t) {
    return t.partner != IpsecPartner::generic || t.type == IpsecTunnelType::route;
}

std::string interface_of(const IpsecTunnel& t) {
    if (!t.interface.empty()) return t.interface;
    return ("avpn-x-" + t.name).substr(0, 15);  // IFNAMSIZ - 1
}

std::string local_address(const Intent& intent, const PlanInputs& inputs, const IpsecTunnel& t) {
    if (t.local_address) return t.local_address->str();
    std::string uplink = t.uplink;
    if (uplink.empty() && !intent.site.uplinks.empty()) uplink = intent.site.uplinks.front().interface;
    auto it = inputs.uplink_addresses.find(uplink);
    return it != inputs.uplink_addresses.end() ? it->second.str() : "%any";
}

std::string uplink_of(const Intent& intent, const IpsecTunnel& t) {
    if (!t.uplink.empty() || intent.site.uplinks.empty()) return t.uplink;
    return intent.site.uplinks.front().interface;
}

// dpd_action / close_action in charon's vici terms (5.9 accepts these names).
std::string dpd_action_of(DpdAction a) {
    switch (a) {
        case DpdAction::clear: return "clear";
        case DpdAction::hold: return "trap";
        case DpdAction::restart: return "start";
    }
    return "clear";
}

std::vector<std::string> cidrs(const std::vector<Prefix>& prefixes) {
    std::vector<Prefix> sorted = prefixes;
    sort_unique(sorted);
    std::vector<std::string> out;
    for (const Prefix& p : sorted) out.push_back(p.str());
    return out;
}

std::vector<std::string> without_repeats(const std::vector<std::string>& in) {
    std::vector<std::string> out;  // preference order matters: no sorting
    for (const std::string& s : in)
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    return out;
}

vici::ChildSa child_of(const IpsecTunnel& t, const std::string& conn, const Proposals& defaults) {
    vici::ChildSa c;
    c.name = conn + "-child";
    c.local_ts = cidrs(t.local_networks);
    c.remote_ts = cidrs(t.remote_networks);
    c.esp_proposals = without_repeats(t.esp_proposals.empty() ? defaults.esp : t.esp_proposals);
    c.start_action = t.initiator ? "start" : "none";
    // A responder never initiates: charon's "start" (restart) and "trap"
    // (hold: the next packet starts an IKE_SA) both would, so a responder
    // clears its dead SAs and waits for the peer. The loader already makes
    // "clear" a responder's default and refuses the others; this holds for
    // an intent built any other way.
    c.dpd_action = t.initiator ? dpd_action_of(t.dpd_action) : "clear";
    // An initiator re-establishes a child the peer closed the way DPD would;
    // a responder waits for the peer.
    c.close_action = t.initiator ? (t.dpd_action == DpdAction::clear ? "none" : c.dpd_action) : "none";
    uint32_t life = uint32_t(t.child_lifetime.count());
    c.rekey_time = t.rekey ? life : 0;
    // Responding only: a hard limit a little beyond the peer's rekey time.
    c.life_time = t.rekey ? 0 : life + life / 10;
    return c;
}

vici::Connection connection_of(const Intent& intent, const PlanInputs& inputs, const IpsecTunnel& t,
                               uint32_t if_id) {
    vici::Connection c;
    c.name = std::string(vici::kConnPrefix) + t.name;
    std::string local = local_address(intent, inputs, t);
    c.local_addrs = {local};
    c.remote_addrs = {t.remote};
    c.local_id = !t.local_id.empty() ? t.local_id : (local == "%any" ? "" : local);
    c.remote_id = !t.remote_id.empty() ? t.remote_id : t.remote;
    c.psk_file = t.psk_file;
    Proposals defaults = partner_proposals(t.partner);
    c.ike_proposals = without_repeats(t.ike_proposals.empty() ? defaults.ike : t.ike_proposals);
    uint32_t ike = uint32_t(t.ike_lifetime.count());
    c.rekey_time = t.rekey ? ike : 0;
    c.reauth_time = t.reauth ? ike : 0;
    c.over_time = (t.rekey || t.reauth) ? ike / 10 : 0;
    c.dpd_delay = uint32_t(t.dpd_delay.count());
    c.dpd_timeout = uint32_t(t.dpd_timeout.count());
    c.if_id_in = if_id;
    c.if_id_out = if_id;
    c.local_port_bind = uplink_of(intent, t);
    c.local_addrs_from = t.local_address    ? "local_address"
                         : local == "%any" ? "uplink " + c.local_port_bind + " at apply time"
                                           : "uplink " + c.local_port_bind;
    c.child = child_of(t, c.name, defaults);
    return c;
}

// if_ids of the enabled route-based tunnels (0 for policy-based ones):
// configured ones as given, the others hashed from the tunnel name into the
// upper half of avpn's if_id range, around the configured ones.
std::vector<uint32_t> allocate_if_ids(const std::vector<const IpsecTunnel*>& tunnels,
                                      const InteropRouting& routing, Errors& errors) {
    const uint64_t space = uint64_t(kInteropIfIdLast) - kInteropIfIdFirst + 1;
    auto in_range = [](uint32_t id) { return id >= kInteropIfIdFirst && id <= kInteropIfIdLast; };
    std::vector<SlotRequest> req;
    std::vector<size_t> which;
    for (size_t i = 0; i < tunnels.size(); ++i) {
        const IpsecTunnel& t = *tunnels[i];
        if (!route_based(t) || (t.if_id != 0 && !in_range(t.if_id))) continue;
        SlotRequest r{t.name, stable_hash("ifid:" + t.name) % space, std::nullopt};
        if (t.if_id != 0) r.pinned = t.if_id - kInteropIfIdFirst;
        req.push_back(r);
        which.push_back(i);
    }
    std::vector<uint32_t> out(tunnels.size(), 0);
    if (req.size() > space) {
        errors.push_back({"allocate if_ids", "", "more than " + std::to_string(space) +
                                                     " route-based IPsec tunnels"});
        return out;
    }
    SlotAllocation alloc = allocate_slots(req, space);
    for (size_t k = 0; k < req.size(); ++k) out[which[k]] = kInteropIfIdFirst + uint32_t(alloc.slots[k]);
    for (size_t i = 0; i < tunnels.size(); ++i)
        if (route_based(*tunnels[i]) && tunnels[i]->if_id != 0) out[i] = tunnels[i]->if_id;
    // A configured if_id may meet another configured one or a group's: that
    // would merge two tunnels' traffic.
    for (size_t i = 0; i < tunnels.size(); ++i) {
        if (out[i] == 0) continue;
        if (std::count(routing.group_if_ids.begin(), routing.group_if_ids.end(), out[i]))
            errors.push_back({"allocate if_ids", tunnels[i]->loc.str(),
                              "if_id " + std::to_string(out[i]) + " of tunnel " + tunnels[i]->name +
                                  " belongs to an AutoVPN group"});
        for (size_t j = 0; j < i; ++j)
            if (out[j] == out[i])
                errors.push_back({"allocate if_ids", tunnels[i]->loc.str(),
                                  "tunnels " + tunnels[j]->name + " and " + tunnels[i]->name +
                                      " share if_id " + std::to_string(out[i])});
    }
    return out;
}

void add_route_based(const IpsecTunnel& t, uint32_t if_id, const InteropRouting& routing,
                     DesiredState& state) {
    nl::Link link;
    link.name = interface_of(t);
    link.kind = nl::LinkKind::xfrm;
    link.xfrm_if_id = if_id;
    state.links.push_back(link);
    for (const Prefix& p : t.remote_networks) {
        state.routes.push_back(nl::Route{routing.table, p, link.name, {}, {}, 0});
        if (!routing.own_rule) continue;
        nl::Rule r;
        r.priority = kInteropRulePriority;
        r.family = p.family();
        r.table = routing.table;
        state.rules.push_back(r);
    }
}

}  // namespace

void plan_ipsec(const Intent& intent, const PlanInputs& inputs, const InteropRouting& routing,
                DesiredState& state, Errors& errors) {
    std::vector<const IpsecTunnel*> tunnels;
    for (const IpsecTunnel& t : intent.ipsec)
        if (t.enabled) tunnels.push_back(&t);
    std::vector<uint32_t> if_ids = allocate_if_ids(tunnels, routing, errors);
    for (size_t i = 0; i < tunnels.size(); ++i) {
        state.ipsec.push_back(connection_of(intent, inputs, *tunnels[i], if_ids[i]));
        if (route_based(*tunnels[i])) add_route_based(*tunnels[i], if_ids[i], routing, state);
    }
}

}  // namespace avpn::planner
