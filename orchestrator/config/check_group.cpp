// Checks inside one AutoVPN group: this site's role rules, its VLAN and hub
// references, every member's hub references, the tunnel subnet's room and
// pinned tunnel addresses, and this site's own entry in the member list.
#include <algorithm>
#include <unordered_map>

#include "orchestrator/config/loader.hpp"
#include "orchestrator/exports.hpp"

namespace avpn::config {

namespace {

struct GroupView {
    Loader& l;
    const Group& g;
    const GroupState& st;
    const Where& w;
    std::unordered_map<std::string_view, Role> roles;  // every member incl. this site

    GroupView(Loader& loader, size_t i)
        : l(loader), g(loader.intent.groups[i]), st(loader.groups[i]), w(loader.groups[i].where) {
        roles.reserve(g.members.size() + 1);
        for (const Member& m : g.members) roles.emplace(m.name, m.role);
        if (!l.intent.site.name.empty()) roles.emplace(l.intent.site.name, l.intent.site.role);
    }

    // Why `name` cannot be used as a hub by `who`; empty when it can.
    std::string hub_problem(const std::string& name, const std::string& who) const {
        if (name == who) return "a site cannot be its own hub";
        auto it = roles.find(name);
        if (it == roles.end()) return "unknown hub \"" + name + "\": no member of group \"" + g.name + "\" has that name";
        if (it->second != Role::hub)
            return "\"" + name + "\" is not a hub of group \"" + g.name + "\" (its role is " +
                   std::string(to_string(it->second)) + ")";
        return "";
    }
};

void check_site_role(GroupView& v) {
    Loader& l = v.l;
    const Where& w = v.w;
    Role role = l.intent.site.role;
    check_role_keys(l.diag, role, w, v.g.hubs.size(), v.g.permitted_vlans.size(), "permitted_vlans");
    if (role == Role::hub && w.has("permitted_vlans"))
        l.diag.error(w.loc("permitted_vlans"), w.field("permitted_vlans"),
                     "permitted_vlans is for spokes; a hub exports every VLAN with shareable = true");
    if (role == Role::spoke && w.has("advertise"))
        l.diag.error(w.loc("advertise"), w.field("advertise"),
                     "spokes may not advertise non-connected prefixes; only hubs do");
}

void check_permitted_vlans(GroupView& v) {
    if (!v.w.ok("permitted_vlans")) return;
    for (size_t i = 0; i < v.g.permitted_vlans.size(); ++i) {
        const std::string& name = v.g.permitted_vlans[i];
        SourceLoc at = v.w.item_loc("permitted_vlans", i);
        std::string field = v.w.item_field("permitted_vlans", i);
        if (!v.l.vlan_declared(name))
            v.l.diag.error(at, field, v.l.unknown_vlan(name));
        else if (const Vlan* vlan = v.l.vlan(name);
                 vlan && !vlan->shareable && v.l.vlans[size_t(vlan - v.l.intent.vlans.data())].ok("shareable"))
            v.l.diag.error(at, field, "VLAN \"" + name + "\" is not shareable; set shareable = true on it to share it through AutoVPN");
    }
}

void check_advertise(GroupView& v) {
    for (size_t i = 0; i < v.g.advertise.size() && v.w.ok("advertise"); ++i)
        if (v.g.advertise[i].is_default())
            v.l.diag.error(v.w.item_loc("advertise", i), v.w.item_field("advertise", i),
                           "a default route is not advertised; spokes choose a full tunnel with default_route = true, hubs with exit_hubs");
}

// References of `who` (role `role`); a list its role may not have is already
// an error and not checked further.
void check_hub_refs(GroupView& v, Role role, const std::vector<HubRef>& hubs, const std::vector<std::string>& exit_hubs,
                    const Where& w, const std::string& who) {
    for (size_t i = 0; i < hubs.size() && w.ok("hubs") && role != Role::hub; ++i)
        if (std::string why = v.hub_problem(hubs[i].name, who); !why.empty())
            v.l.diag.error(hubs[i].loc, w.item_field("hubs", i), why);
    for (size_t i = 0; i < exit_hubs.size() && w.ok("exit_hubs") && role != Role::spoke; ++i)
        if (std::string why = v.hub_problem(exit_hubs[i], who); !why.empty())
            v.l.diag.error(w.item_loc("exit_hubs", i), w.item_field("exit_hubs", i), why);
}

uint64_t usable_addresses(const Prefix& p) {
    int bits = p.addr.max_len() - p.len;
    if (bits >= 63) return UINT64_MAX;
    uint64_t all = uint64_t(1) << bits;
    if (p.family() == Family::v6) return all - (bits > 0 ? 1 : 0);  // minus the subnet-router anycast
    return bits >= 2 ? all - 2 : all;                              // minus network and broadcast
}

// Why `a` cannot be a tunnel address in `subnet`; empty when it can.
std::string tunnel_address_problem(const IpAddr& a, const Prefix& subnet) {
    if (!subnet.contains(a)) return a.str() + " is outside the tunnel subnet " + subnet.str();
    if (subnet.len < subnet.addr.max_len() - 1 && a == subnet.addr)
        return a.str() + " is the tunnel subnet's network address";
    if (subnet.family() == Family::v4 && subnet.len <= 30) {
        uint32_t host_mask = (uint32_t(1) << (32 - subnet.len)) - 1;
        if ((a.v4_host_order() & host_mask) == host_mask) return a.str() + " is the tunnel subnet's broadcast address";
    }
    return "";
}

void check_tunnel_addresses(GroupView& v) {
    const Group& g = v.g;
    const Where& subnet = v.st.tunnel_subnet_where();
    if (!subnet.ok("tunnel_subnet")) return;
    size_t sites = g.members.size() + 1;
    if (v.st.members.loaded && sites > usable_addresses(g.tunnel_subnet))
        v.l.diag.error(subnet.loc("tunnel_subnet"), subnet.field("tunnel_subnet"),
                       "tunnel subnet " + g.tunnel_subnet.str() + " has " + std::to_string(usable_addresses(g.tunnel_subnet)) +
                           " usable addresses but the group has " + std::to_string(sites) + " sites");
    std::unordered_map<std::string, std::pair<std::string, SourceLoc>> pinned;
    auto pin = [&](const std::optional<IpAddr>& a, const std::string& site, const SourceLoc& at, const std::string& field) {
        if (!a) return;
        if (std::string why = tunnel_address_problem(*a, g.tunnel_subnet); !why.empty())
            return v.l.diag.error(at, field, why);
        auto [it, fresh] = pinned.emplace(a->str(), std::make_pair(site, at));
        if (!fresh)
            v.l.diag.error(at, field, "tunnel address " + a->str() + " of \"" + site + "\" is already pinned to \"" +
                                          it->second.first + "\" at " + it->second.second.str());
    };
    pin(g.tunnel_address, v.l.intent.site.name, v.w.loc("tunnel_address"), v.w.field("tunnel_address"));
    for (size_t i = 0; i < g.members.size(); ++i)
        pin(g.members[i].tunnel_address, g.members[i].name, v.st.members.where[i].loc("tunnel_address"),
            v.st.members.where[i].field("tunnel_address"));
}

std::string prefix_list(const std::vector<Prefix>& ps) {
    std::string s = "[";
    for (size_t i = 0; i < ps.size(); ++i) s += (i ? ", " : "") + ps[i].str();
    return s + "]";
}

// This site may be listed in its own member list; it must agree with site.toml.
void check_self_entry(GroupView& v) {
    if (!v.st.members.self) return;
    Loader& l = v.l;
    const Member& m = *v.st.members.self;
    const Where& w = v.st.members.self_where;
    const std::string& me = l.intent.site.name;
    if (l.site_role_known() && w.ok("role") && w.has("role") && m.role != l.intent.site.role)
        l.diag.error(w.loc("role"), w.field("role"),
                     "the member list gives \"" + me + "\" role " + std::string(to_string(m.role)) +
                         " but its [site] role is " + std::string(to_string(l.intent.site.role)));
    if (l.key_loaded && !m.public_key.empty() && m.public_key != l.intent.site.public_key)
        l.diag.error(w.loc("public_key"), w.field("public_key"),
                     "public key of \"" + me + "\" does not match its key_file " + normal_path(l.intent.site.key_file) +
                         " (whose public key is " + l.intent.site.public_key + ")");
    if (m.tunnel_address != v.g.tunnel_address && w.ok("tunnel_address") && v.w.ok("tunnel_address"))
        l.diag.error(w.loc("tunnel_address"), w.field("tunnel_address"),
                     "the member list pins \"" + me + "\" to tunnel address " +
                         (m.tunnel_address ? m.tunnel_address->str() : "(none)") + " but its site file says " +
                         (v.g.tunnel_address ? v.g.tunnel_address->str() : "(none)"));
    std::vector<Prefix> listed = m.exports;
    std::sort(listed.begin(), listed.end());
    listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
    std::vector<Prefix> actual = site_exports(l.intent, v.g);
    // Only meaningful for an otherwise valid site file (a bad VLAN or role
    // would make this a consequence, not news).
    if (l.diag.errors.empty() && w.ok("exports") && listed != actual)
        l.diag.warning(w.loc("exports"), w.field("exports"),
                       "the member list says \"" + me + "\" exports " + prefix_list(listed) + " but its site file exports " +
                           prefix_list(actual) + "; regenerate its entry with `avpnctl member`");
}

// Active-active (docs/uplinks.md): a site with it runs a tunnel per uplink to
// every peer, and its peers learn that from its member-list entry (`paths`),
// so site.toml and the entry must agree. What is not built yet is refused.
void check_paths(GroupView& v) {
    Loader& l = v.l;
    const Group& g = v.g;
    const Site& site = l.intent.site;
    const size_t uplinks = site.uplinks.size();
    const uint8_t most = most_paths(g);
    const Where* self = v.st.members.self ? &v.st.members.self_where : nullptr;
    if (site.active_active && uplinks >= 2) {
        const std::string in_site = site.loc.file + ": active_active with " + std::to_string(uplinks) + " uplinks";
        if (!self)
            l.diag.error(l.site.loc("active_active"), l.site.field("active_active"),
                         "group \"" + g.name + "\": the member list has no entry for \"" + site.name +
                             "\", which must say paths = " + std::to_string(uplinks) +
                             " so that its peers run a tunnel per uplink");
        else if (self->ok("paths") && g.self_paths != uplinks)
            l.diag.error(self->has("paths") ? self->loc("paths") : self->loc("name"), self->field("paths"),
                         "\"" + site.name + "\" needs paths = " + std::to_string(uplinks) + " (" + in_site +
                             "), so that its peers run a tunnel per uplink; the entry says " +
                             std::to_string(g.self_paths));
        bool full = !g.exit_hubs.empty();
        for (const HubRef& h : g.hubs) full = full || h.default_route;
        if (full && g.transport == Transport::xfrm)
            l.diag.error(v.w.loc("hubs"), v.w.field("hubs"),
                         "active_active with a full tunnel (a default-route hub) is built for WireGuard groups only: "
                         "an XFRM path's outer packets would be routed by its flows' path mark into the path's own "
                         "default route (its SAs would need an output mark)");
    } else if (self && g.self_paths > 1) {
        l.diag.error(self->loc("paths"), self->field("paths"),
                     "paths = " + std::to_string(g.self_paths) + " for \"" + site.name +
                         "\" needs active_active = true in " + site.loc.file + " (one tunnel per uplink)");
    }
    if (most <= 1) return;
    // Pairs that fall back to one path (planner.cpp, pair_paths): said here,
    // so a spreading site that does not spread towards a peer is no surprise.
    if (g.self_paths > 1 && self) {
        std::vector<std::string> no_contact;
        for (size_t i = 0; i < g.members.size(); ++i) {
            const Member& m = g.members[i];
            const bool my_hub = std::any_of(g.hubs.begin(), g.hubs.end(), [&](const HubRef& h) { return h.name == m.name; });
            const bool my_spoke = site.role == Role::hub && m.role == Role::spoke &&
                                  std::any_of(m.hubs.begin(), m.hubs.end(), [&](const HubRef& h) { return h.name == site.name; });
            if (!my_hub && !my_spoke && !(site.role == Role::hub && m.role == Role::hub)) continue;
            const Where& mw = v.st.members.where[i];
            if (m.paths > 1)
                l.diag.warning(mw.loc("paths"), mw.field("paths"),
                               "\"" + site.name + "\" and \"" + m.name + "\" both spread over their uplinks: they run one "
                               "path between them (a contact per uplink is not built yet)");
            else if (!m.contact)
                no_contact.push_back(m.name);
        }
        if (!no_contact.empty()) {
            std::string names;
            for (size_t i = 0; i < no_contact.size() && i < 3; ++i) names += (i ? ", \"" : "\"") + no_contact[i] + "\"";
            if (no_contact.size() > 3) names += " and " + std::to_string(no_contact.size() - 3) + " more";
            l.diag.warning(self->loc("paths"), self->field("paths"),
                           "\"" + site.name + "\" runs one path with " + names +
                               ": no contact in the member list (the spreading end starts each path at the other's "
                               "contact + i)");
        }
    }
    const std::string suffix = ".p" + std::to_string(most - 1);
    if (g.interface.size() + suffix.size() > 15)
        l.diag.error(v.w.loc("interface"), v.w.field("interface"),
                     "interface \"" + g.interface + "\" leaves no room for its path devices (\"" + g.interface +
                         suffix + "\" is over 15 characters): a member runs " + std::to_string(most) +
                         " paths; choose a shorter name");
    if (uint32_t(g.listen_port) + most - 1 > 65535)
        l.diag.error(v.w.loc("listen_port"), v.w.field("listen_port"),
                     "listen_port " + std::to_string(g.listen_port) + " leaves no room for path ports (path i listens on " +
                         "listen_port + i, up to " + std::to_string(most - 1) + ")");
}

}  // namespace

void check_group(Loader& l, size_t i) {
    GroupView v(l, i);
    if (l.site_role_known()) check_site_role(v);
    check_permitted_vlans(v);
    check_advertise(v);
    if (!v.st.members.loaded) return;  // everything below needs the member list
    check_hub_refs(v, l.intent.site.role, v.g.hubs, v.g.exit_hubs, v.w, l.intent.site.name);
    for (size_t m = 0; m < v.g.members.size(); ++m) {
        const Member& member = v.g.members[m];
        check_hub_refs(v, member.role, member.hubs, member.exit_hubs, v.st.members.where[m], member.name);
    }
    check_tunnel_addresses(v);
    check_self_entry(v);
    check_paths(v);
}

}  // namespace avpn::config
