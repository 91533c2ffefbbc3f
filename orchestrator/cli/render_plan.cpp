#include "orchestrator/cli/render_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/report/json_objects.hpp"

namespace avpn::cli {

using report::array_to_json;
using report::to_json;

std::string render_plan_json(const DesiredState& s) {
    JsonWriter w;
    w.begin_object().field("schema", "avpn.plan/1").field("site", s.site);
    array_to_json(w, "groups", s.groups);
    array_to_json(w, "peers", s.peers);
    array_to_json(w, "links", s.links);
    array_to_json(w, "addresses", s.addresses);
    array_to_json(w, "wireguard", s.wireguard);
    array_to_json(w, "xfrm_states", s.xfrm_states);
    array_to_json(w, "xfrm_policies", s.xfrm_policies);
    array_to_json(w, "routes", s.routes);
    array_to_json(w, "rules", s.rules);
    array_to_json(w, "ipsec", s.ipsec);
    w.key("firewall");
    if (s.firewall) {
        // The commands plugins/firewall runs inside table inet avpn
        // (firewall_json.hpp), so the plan shows exactly what apply will send.
        w.begin_object().field("table", "inet avpn").field("applied", true).key("nft");
        fw::write_firewall_json(w, *s.firewall);
        w.end_object();
    } else {
        w.null();
    }
    w.end_object();
    return w.str();
}

namespace {

std::string join(const std::vector<Prefix>& list) {
    std::string s;
    for (const Prefix& p : list) s += (s.empty() ? "" : " ") + p.str();
    return s.empty() ? "-" : s;
}

std::string join(const std::vector<std::string>& list, const char* sep = ",") {
    std::string s;
    for (const auto& p : list) s += (s.empty() ? "" : sep) + p;
    return s.empty() ? "-" : s;
}

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

void section(std::ostringstream& o, const char* title, size_t n) {
    o << "\n" << title << " (" << n << ")\n";
}

void text_rule(std::ostringstream& o, const nl::Rule& r) {
    o << "  " << r.priority << ": " << (r.family == Family::v4 ? "inet" : "inet6");
    if (r.src) o << " from " << r.src->str();
    if (r.dst) o << " to " << r.dst->str();
    if (r.fwmask) o << (r.invert ? " not" : "") << " fwmark " << hex(r.fwmark) << "/" << hex(r.fwmask);
    o << " lookup " << (r.table == 254 ? std::string("main") : std::to_string(r.table));
    if (r.suppress_prefixlen >= 0) o << " suppress_prefixlength " << r.suppress_prefixlen;
    o << "\n";
}

void text_ipsec(std::ostringstream& o, const vici::Connection& c) {
    // Planned without the uplink's address: apply sends the address it has then.
    const bool at_apply = c.local_addrs_from.ends_with("at apply time");
    const std::string local = at_apply ? "(" + c.local_port_bind + "'s address at apply time)" : join(c.local_addrs);
    o << "  " << c.name << ": " << local << " -> " << join(c.remote_addrs)
      << (c.if_id_in ? " route-based if_id " + hex(c.if_id_in) : std::string(" policy-based")) << "\n"
      << "    ike " << join(c.ike_proposals) << " rekey " << c.rekey_time << "s reauth " << c.reauth_time
      << "s dpd " << c.dpd_delay << "s\n"
      << "    child " << join(c.child.local_ts) << " <=> " << join(c.child.remote_ts) << " esp "
      << join(c.child.esp_proposals) << " start " << c.child.start_action << " dpd_action "
      << c.child.dpd_action << "\n";
}

void text_firewall(std::ostringstream& o, const fw::FirewallTable& t) {
    o << "\nfirewall: table inet avpn (apply installs it whole, in one transaction)\n";
    for (const fw::Set& s : t.sets)
        o << "  set " << s.name << " " << (s.family == Family::v4 ? "ipv4_addr" : "ipv6_addr") << " interval ("
          << s.elements.size() << "): " << join(s.elements) << "\n";
    o << "  chain " << fw::kForwardChain << " (filter hook forward priority " << fw::kForwardPriority
      << ", policy accept)\n";
    for (const fw::Rule& r : t.forward) o << "    " << fw::rule_text(r) << "\n";
    if (!t.input.empty()) {
        o << "  chain " << fw::kInputChain << " (filter hook input priority " << fw::kForwardPriority
          << ", policy accept)\n";
        for (const fw::Rule& r : t.input) o << "    " << fw::rule_text(r) << "\n";
    }
    for (const fw::PathSpread& p : t.paths) {
        o << "  chain " << fw::kPathsChain << " (filter hook prerouting priority " << fw::kPathsPriority
          << ", policy accept): group " << p.group << ", path i = " << join(p.devices) << " with ct mark and mark "
          << p.first_mark << " + i; a new connection to (" << p.remote.size() << ") " << join(p.remote)
          << " (not to this router) takes jhash(five-tuple) mod " << p.devices.size()
          << ", one arriving on path i's device takes i\n"
          << "  chain " << fw::kPathsOutChain << " (route hook output priority " << fw::kPathsPriority
          << ", policy accept): the same for what this router sends itself into " << join(p.devices)
          << " unmarked\n";
    }
    o << "  chain " << fw::kRulesChain << "\n";
    for (const fw::Rule& r : t.rules)
        o << "    " << fw::rule_text(r) << (r.origin ? "  # " + r.origin->str() : std::string()) << "\n";
}

}  // namespace

std::string render_plan_text(const DesiredState& s) {
    std::ostringstream o;
    o << "site " << s.site << "\n";
    for (const GroupPlan& g : s.groups) {
        o << "group " << g.group << ": " << g.interface << " " << g.tunnel_address.str() << ", "
          << (g.full_tunnel ? "full tunnel" : "split tunnel") << ", exports " << join(g.exports) << "\n"
          << "  fingerprint " << g.fingerprint << "\n";
        for (const PeerPlan& p : s.peers) {
            if (p.group != g.group) continue;
            o << "  peer " << p.site << " (" << p.role << ") " << p.tunnel_address.str() << " endpoint "
              << (p.endpoint ? p.endpoint->str() : std::string("(learned)"))
              << (p.default_route ? " default-route" : "")
              << (p.shortcut.empty() ? "" : " shortcut " + p.shortcut)
              << (p.paths > 1 ? " paths " + std::to_string(p.paths) : std::string()) << "\n    allowed " << join(p.allowed) << "\n";
        }
    }
    section(o, "links", s.links.size());
    for (const auto& l : s.links)
        o << "  " << l.name << " " << nl::to_string(l.kind)
          << (l.kind == nl::LinkKind::xfrm ? " if_id " + hex(l.xfrm_if_id) : std::string())
          << (l.wg_impl != nl::WgImpl::any ? " backend " + std::string(nl::to_string(l.wg_impl)) : std::string())
          << "\n";
    section(o, "addresses", s.addresses.size());
    for (const auto& a : s.addresses) o << "  " << a.address.str() << "/" << int(a.prefix_len) << " dev " << a.ifname << "\n";
    section(o, "wireguard devices", s.wireguard.size());
    for (const auto& d : s.wireguard) {
        o << "  " << d.ifname << " port " << d.listen_port << " key " << d.private_key.private_key_file
          << (d.fwmark ? " fwmark " + hex(d.fwmark) : std::string()) << ", " << d.peers.size() << " peers\n";
        for (const auto& p : d.peers)
            o << "    " << p.public_key << " (" << p.site << ") "
              << (p.endpoint ? p.endpoint->str() : std::string("-")) << " keepalive " << p.keepalive_seconds
              << " allowed " << join(p.allowed_ips) << "\n";
    }
    section(o, "xfrm states", s.xfrm_states.size());
    if (std::any_of(s.links.begin(), s.links.end(), [](const nl::Link& l) { return l.kind == nl::LinkKind::xfrm; }))
        o << "  (each peer's SAs come from avpnd's key exchange, after its first handshake)\n";
    for (const auto& a : s.xfrm_states)
        o << "  " << a.src.str() << " -> " << a.dst.str() << " spi " << hex(a.spi) << " reqid " << hex(a.reqid)
          << " if_id " << hex(a.if_id) << " " << a.aead << " espinudp " << a.encap_sport << ":" << a.encap_dport << "\n";
    section(o, "xfrm policies", s.xfrm_policies.size());
    for (const auto& p : s.xfrm_policies)
        o << "  " << p.src.str() << " -> " << p.dst.str() << " dir " << nl::to_string(p.dir) << " prio "
          << p.priority << " " << nl::to_string(p.action) << " if_id " << hex(p.if_id)
          << (p.templates.empty() ? std::string() : " reqid " + hex(p.templates[0].reqid)) << "\n";
    section(o, "routes", s.routes.size());
    for (const auto& r : s.routes)
        o << "  " << r.dst.str() << " dev " << r.ifname << " table " << r.table
          << (r.gateway ? " via " + r.gateway->str() : std::string()) << "\n";
    section(o, "rules", s.rules.size());
    for (const auto& r : s.rules) text_rule(o, r);
    section(o, "ipsec connections", s.ipsec.size());
    for (const auto& c : s.ipsec) text_ipsec(o, c);
    if (s.firewall) text_firewall(o, *s.firewall);
    return o.str();
}

}  // namespace avpn::cli
