// [[ipsec]]: interop tunnels to third-party gateways (strongSwan via vici).
#include <cctype>

#include "common/hex.hpp"
#include "orchestrator/config/loader.hpp"
#include "orchestrator/ownership.hpp"

namespace avpn::config {

namespace {

const IpsecTunnel kDefaults{};

bool valid_proposal(std::string_view s) {
    if (s.empty() || s.front() == '-' || s.back() == '-') return false;
    for (char ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return false;
    return true;
}

std::optional<std::vector<std::string>> read_proposals(Fields& f, std::string_view key) {
    return f.list<std::string>(key, [&](const Node& n, const std::string& p) -> std::optional<std::string> {
        auto s = read_string(f.ctx(), n, p);
        if (s && !valid_proposal(*s)) {
            f.ctx().error(n, p, "\"" + *s + "\" is not a proposal: algorithms joined by '-', e.g. \"aes256-sha256-modp2048\"");
            return std::nullopt;
        }
        return s;
    });
}

// A responder-only tunnel (initiator = false) never initiates. charon's DPD
// "restart" (dpd_action start) and "hold" (trap: the next packet starts an
// IKE_SA) both initiate, so a responder's default is "clear", and asking for
// either explicitly is an error rather than a silent change of meaning.
void responder_dpd(Fields& d, IpsecTunnel& t, bool action_given) {
    if (t.initiator) return;
    if (!action_given) {
        t.dpd_action = DpdAction::clear;
        return;
    }
    if (t.dpd_action == DpdAction::clear) return;
    d.error("action", std::string("\"") + (t.dpd_action == DpdAction::restart ? "restart" : "hold") +
                          "\" makes charon initiate when the peer is dead (" +
                          (t.dpd_action == DpdAction::restart ? "a new IKE_SA at once" : "a new IKE_SA at the next packet") +
                          "), but this tunnel is responder-only (initiator = false); use \"clear\" (the default "
                          "for responders): the tunnel comes back when the peer initiates again");
}

void read_dpd(Loader& l, Fields& f, IpsecTunnel& t) {
    const Node* n = f.get("dpd");
    if (!n) {
        if (!t.initiator) t.dpd_action = DpdAction::clear;
        return;
    }
    if (!n->is_table()) {
        f.error("dpd", "expected a table like { action = \"restart\", delay = \"10s\", timeout = \"30s\" }, found " +
                           std::string(type_name(n->type)));
        return;
    }
    Fields d(f.ctx(), *n, f.path("dpd"));
    auto action = d.choice<DpdAction>("action", {{"clear", DpdAction::clear}, {"hold", DpdAction::hold},
                                                 {"restart", DpdAction::restart}});
    if (action) t.dpd_action = *action;
    responder_dpd(d, t, action.has_value());
    if (auto v = d.duration("delay")) t.dpd_delay = *v;
    if (auto v = d.duration("timeout")) {
        t.dpd_timeout = *v;
        if (*v != kDefaults.dpd_timeout)
            l.diag.warning(d.loc("timeout"), d.path("timeout"),
                           "strongSwan's IKEv2 dead-peer detection gives up after charon's retransmission "
                           "settings (charon.retransmit_tries/timeout/base), not a per-connection timeout; "
                           "this value only affects IKEv1");
    }
    d.finish();
}

void read_lifetimes(Fields& f, IpsecTunnel& t) {
    for (auto [key, field] : {std::pair{"ike_lifetime", &t.ike_lifetime}, {"child_lifetime", &t.child_lifetime}}) {
        auto v = f.duration(key);
        if (!v) continue;
        if (v->count() == 0)
            f.error(key, "a lifetime must be longer than 0s");
        else
            *field = *v;
    }
}

void read_type(Fields& f, IpsecTunnel& t) {
    if (auto v = f.choice<IpsecPartner>("partner", {{"generic", IpsecPartner::generic},
                                                    {"aws", IpsecPartner::aws},
                                                    {"azure", IpsecPartner::azure}}))
        t.partner = *v;
    bool cloud = t.partner != IpsecPartner::generic;
    t.type = cloud ? IpsecTunnelType::route : IpsecTunnelType::policy;
    if (auto v = f.choice<IpsecTunnelType>("type", {{"policy", IpsecTunnelType::policy},
                                                    {"route", IpsecTunnelType::route}})) {
        if (cloud && *v == IpsecTunnelType::policy)
            f.error("type", "partner \"" + std::string(to_string(t.partner)) +
                                "\" tunnels are route-based (an XFRM interface); remove type or set type = \"route\"");
        else
            t.type = *v;
    }
}

void read_route_based(Fields& f, IpsecTunnel& t) {
    bool route = t.type == IpsecTunnelType::route;
    if (auto v = f.integer("if_id", 0, 0xffffffffLL)) {
        // Paths' if_ids are the planner's alone (ownership.hpp).
        if (*v == 0 || (*v >= own::kIfIdFirst && *v < own::kPathIfIdFirst))
            t.if_id = uint32_t(*v);
        else
            f.error("if_id", std::to_string(*v) + " is outside avpn's XFRM interface ids " + hex32(own::kIfIdFirst) +
                                 ".." + hex32(own::kPathIfIdFirst - 1) + " (0: derived)");
    }
    if (auto v = f.ifname("interface")) t.interface = *v;
    for (std::string_view key : {"if_id", "interface"})
        if (!route && f.has(key))
            f.error(key, std::string(key) + " only applies to route-based tunnels (type = \"route\")");
    if (!route || f.has("interface") || t.name.empty()) return;
    t.interface = "avx-" + t.name;
    if (std::string why = ifname_problem(t.interface); !why.empty())
        f.error("interface", "the default interface name \"" + t.interface + "\" " + why +
                                 "; set interface to a shorter name");
}

void read_endpoints(Loader& l, Fields& f, IpsecTunnel& t) {
    if (auto v = f.ifname("uplink"))
        t.uplink = *v;
    else if (!l.intent.site.uplinks.empty())
        t.uplink = l.intent.site.uplinks.front().interface;
    t.local_address = f.address("local_address");
    if (auto v = f.str("local_id")) t.local_id = *v;
    if (const Node* n = f.get("remote", true)) {
        if (auto v = read_hostname_or_ip(f.ctx(), *n, f.path("remote")))
            t.remote = *v;
        else
            f.mark_bad("remote");
    }
    if (auto v = f.str("remote_id")) t.remote_id = *v;
}

void read_networks(Fields& f, IpsecTunnel& t) {
    if (auto v = f.prefixes("remote_networks")) t.remote_networks = *v;
    if (auto v = f.names("local_vlans")) t.local_vlans = *v;
    for (std::string_view key : {"remote_networks", "local_vlans"}) {
        const Node* n = f.table().find(key);
        if (!n)
            f.get(key, true);
        else if (n->is_array() && n->items.empty())
            f.error(key, std::string(key) + " needs at least one entry");
    }
}

void parse_tunnel(Loader& l, const ValueCtx& c, const SectionTable& s, size_t) {
    Fields f(c, *s.table, s.path);
    IpsecTunnel t;
    t.loc = f.loc();
    if (auto v = f.name("name", true)) t.name = *v;
    if (auto v = f.boolean("enabled")) t.enabled = *v;
    read_type(f, t);
    read_endpoints(l, f, t);
    if (auto v = f.boolean("initiator")) t.initiator = *v;
    if (f.get("psk_file", true)) {
        auto psk = read_secret_at(l, f, "psk_file", &t.psk_file);
        if (psk && psk->trimmed().empty()) f.error("psk_file", normal_path(t.psk_file) + " is empty");
    }
    read_networks(f, t);
    read_lifetimes(f, t);
    if (auto v = f.boolean("rekey")) t.rekey = *v;
    if (auto v = f.boolean("reauth")) t.reauth = *v;
    read_dpd(l, f, t);
    if (auto v = read_proposals(f, "ike_proposals")) t.ike_proposals = *v;
    if (auto v = read_proposals(f, "esp_proposals")) t.esp_proposals = *v;
    read_route_based(f, t);
    if (auto v = f.boolean("client_vpn")) t.client_vpn = *v;
    f.finish();
    l.intent.ipsec.push_back(std::move(t));
    l.ipsec.push_back(Where::of(f));
}

}  // namespace

void parse_ipsec(Loader& l, const Node& value) {
    parse_each(l, value, "ipsec", parse_tunnel);
}

}  // namespace avpn::config
