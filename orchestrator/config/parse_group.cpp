// [autovpn] (one group) or [[autovpn]] (several groups).
#include "common/crypto.hpp"
#include "orchestrator/config/loader.hpp"
#include "orchestrator/ownership.hpp"

namespace avpn::config {

namespace {

constexpr uint16_t kRegistryPort = 9350;
constexpr uint16_t kListenPortBase = 51820;

Prefix default_tunnel_subnet() { return *Prefix::parse("100.64.0.0/10"); }

// { endpoint = "ADDR[:PORT]", public_key = "..." }: a registry is only
// trusted under the key pinned here (IK: the site must know it beforehand).
std::optional<RegistryPin> read_registry_pin(const ValueCtx& c, const Node& n, const std::string& path) {
    if (!n.is_table()) {
        c.error(n, path,
                "expected { endpoint = \"ADDR[:PORT]\", public_key = \"...\" } (the registry's public key is "
                "pinned: avpn-registry logs it at start), found " + std::string(type_name(n.type)));
        return std::nullopt;
    }
    Fields f(c, n, path);
    std::optional<Endpoint> endpoint;
    if (const Node* e = f.get("endpoint", true)) {
        endpoint = read_endpoint(c, *e, f.path("endpoint"), kRegistryPort);
        if (!endpoint) f.mark_bad("endpoint");
    }
    auto key = f.str("public_key", true);
    if (key && !crypto::base64_decode_key(*key)) {
        f.error("public_key", "not a base64 X25519 public key (44 characters encoding 32 bytes; "
                              "avpn-registry logs its own at start)");
        key.reset();
    }
    f.finish();
    if (!endpoint || !key || !f.bad_keys().empty()) return std::nullopt;
    return RegistryPin{*endpoint, *key, c.loc(n)};
}

void read_registries(Loader& l, Fields& f, Group& g) {
    auto regs = f.list<RegistryPin>("registries", [&](const Node& n, const std::string& p) {
        return read_registry_pin(f.ctx(), n, p);
    });
    if (regs) g.registries = *regs;
    if (auto hold = f.duration("contact_hold")) {
        if (hold->count() < 60)
            f.error("contact_hold", "contact_hold is at least 1m (a peer's registration itself lives 60 s)");
        else
            g.contact_hold = *hold;
    }
    if (f.has("group_key_file")) {
        auto secret = read_secret_at(l, f, "group_key_file", &g.group_key_file);
        if (secret && !crypto::base64_decode_key(secret->trimmed()))
            f.error("group_key_file", normal_path(g.group_key_file) +
                                          " does not hold a base64 32-byte key (44 characters, as `wg genpsk` writes it)");
    }
    for (size_t i = 0; i < g.registries.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (g.registries[i].endpoint == g.registries[j].endpoint) {
                f.ctx().diag.error(g.registries[i].loc, index_path(f.path("registries"), i),
                                   "registry " + g.registries[i].endpoint.str() + " is listed twice");
                f.mark_bad("registries");
            }
    if (f.has("contact_hold") && !f.has("registries"))
        f.error("contact_hold", "contact_hold only applies with registries (contacts learned from them)");
    if (g.registries.empty()) return;
    l.diag.daemon_only(f.loc("registries"), f.path("registries"),
                       "registries need avpnd: it runs the registry client on the group's tunnel port");
    if (!f.has("group_key_file"))
        f.error("registries", "registries need group_key_file (the key that authenticates registry messages)");
    if (g.registries.size() == 1 && !f.bad("registries"))
        l.diag.warning(f.loc("registries"), f.path("registries"),
                       "a single registry is a single point of failure, and the NAT type needs two; list two or more");
}

void read_ports(Loader& l, Fields& f, Group& g, size_t index) {
    g.listen_port = uint16_t(f.integer("listen_port", 1, 65535).value_or(kListenPortBase + int64_t(index)));
    if (auto p = f.integer("public_port", 1, 65535)) {
        g.public_port = uint16_t(*p);
        if (l.intent.site.nat.mode != NatMode::manual)
            f.error("public_port", "public_port (a forwarded port) is only used with [site] nat = \"manual\"");
    }
    if (auto k = f.duration("keepalive")) {
        if (k->count() > 65535)
            f.error("keepalive", "keepalive is at most 65535s (WireGuard's limit)");
        else
            g.keepalive_seconds = uint16_t(k->count());
    }
}

void read_kernel_ids(Fields& f, Group& g, size_t index) {
    g.table = own::kTableBase + uint32_t(index);
    if (auto t = f.integer("table", 1, 0xffffffffLL)) {
        if (*t >= 253 && *t <= 255)
            f.error("table", "table " + std::to_string(*t) + " is one of the kernel's own (default, main, local)");
        g.table = uint32_t(*t);
    }
    g.rule_priority = own::kRulePriorityFirst + own::kRuleSlot * uint32_t(index);
    const int64_t last_slot = own::kRulePriorityLast + 1 - own::kRuleSlot;
    if (auto p = f.get("rule_priority")) {
        if (auto v = read_int(f.ctx(), *p, f.path("rule_priority"), own::kRulePriorityFirst, last_slot))
            g.rule_priority = uint32_t(*v);
        else
            f.mark_bad("rule_priority");
    } else if (g.rule_priority > last_slot) {
        f.ctx().diag.error(f.loc(), f.path("rule_priority"),
                           "avpn's rule band " + std::to_string(own::kRulePriorityFirst) + ".." +
                               std::to_string(own::kRulePriorityLast) + " holds " +
                               std::to_string((last_slot - own::kRulePriorityFirst) / own::kRuleSlot + 1) +
                               " groups; this is group " + std::to_string(index + 1));
    }
}

void read_interface(Fields& f, Group& g) {
    if (auto i = f.ifname("interface")) {
        g.interface = *i;
        return;
    }
    if (f.has("interface") || g.name.empty()) return;
    g.interface = own::kInterfacePrefix + g.name;
    if (std::string why = ifname_problem(g.interface); !why.empty())
        f.error("interface", "the default interface name \"" + g.interface + "\" " + why +
                                 "; set interface to a shorter name");
}

void read_roles_lists(Fields& f, Group& g) {
    if (auto v = f.names("permitted_vlans")) g.permitted_vlans = *v;
    if (auto v = read_hub_refs(f, "hubs")) g.hubs = *v;
    if (auto v = f.names("exit_hubs")) g.exit_hubs = *v;
    if (auto v = f.prefixes("advertise")) g.advertise = *v;
}

// An XFRM group needs its ESP-in-UDP socket held for as long as it exists,
// which only avpnd can do. Noted at the place that makes the group XFRM:
// the group's own transport, else its member list header's.
void note_xfrm_needs_daemon(Loader& l, const GroupState& st, const Group& g, Fields& f) {
    if (g.transport != Transport::xfrm) return;
    const Where& h = st.members.header.where;
    bool own = f.has("transport") && !f.bad("transport");
    l.diag.daemon_only(own ? f.loc("transport") : h.loc("transport"), own ? f.path("transport") : h.field("transport"),
                       "group \"" + shown(g.name) + "\" (transport = \"xfrm\") needs avpnd: it holds the group's "
                       "ESP-in-UDP socket on port " + std::to_string(g.listen_port));
}

// The SAs' soft limits, where the kernel tells avpnd to rekey. WireGuard
// rekeys by itself (every 2 minutes), with nothing to set.
void read_rekey_limits(Fields& f, Group& g) {
    g.rekey_bytes = f.size("rekey_bytes", kRekeyBytesMin, kRekeyBytesMax);
    if (auto p = f.integer("rekey_packets", int64_t(kRekeyPacketsMin), int64_t(kRekeyPacketsMax)))
        g.rekey_packets = uint64_t(*p);
    if (g.transport == Transport::xfrm) return;
    for (const char* key : {"rekey_bytes", "rekey_packets"})
        if (f.has(key) && !f.bad(key))
            f.error(key, std::string(key) + " only applies with transport = \"xfrm\" (WireGuard rekeys by itself)");
}

// Shortcuts are set by the group header (every member alike: a spoke that
// tries one with a spoke that does not only times out) or the site's group.
void check_shortcuts(Loader& l, const GroupState& st, const Group& g, Fields& f) {
    if (!g.shortcuts) return;
    const Where& h = st.members.header.where;
    bool own = f.has("shortcuts") && !f.bad("shortcuts");
    const SourceLoc at = own ? f.loc("shortcuts") : h.loc("shortcuts");
    const std::string field = own ? f.path("shortcuts") : h.field("shortcuts");
    if (g.transport != Transport::wireguard) {
        l.diag.error(at, field,
                     "shortcuts are built for WireGuard groups only; an XFRM group relays every spoke-to-spoke "
                     "packet through a hub (docs/shortcuts.md)");
        return;
    }
    l.diag.daemon_only(at, field, "shortcuts need avpnd: it watches spoke-to-spoke traffic and sets them up");
    if (g.registries.size() < 2)
        l.diag.warning(at, field,
                       "shortcuts go only where both NATs allow them, which takes two registries to tell; with " +
                           std::to_string(g.registries.size()) +
                           ", only spokes with a static contact or behind one public address get them");
}

void parse_group(Loader& l, const ValueCtx& c, const SectionTable& t, size_t index) {
    Fields f(c, *t.table, t.path);
    Group g;
    g.loc = f.loc();
    if (auto v = f.name("group", true)) g.name = *v;
    g.tunnel_subnet = f.prefix("tunnel_subnet").value_or(default_tunnel_subnet());
    if (auto v = read_transport(f)) g.transport = *v;
    read_interface(f, g);
    read_kernel_ids(f, g, index);
    read_ports(l, f, g, index);
    read_registries(l, f, g);
    read_roles_lists(f, g);
    g.tunnel_address = f.address("tunnel_address");
    if (auto v = f.boolean("shortcuts")) g.shortcuts = *v;

    GroupState state;
    load_member_list(l, state, g, f);
    apply_group_header(l, state, g, f);  // the transport is known from here on
    note_xfrm_needs_daemon(l, state, g, f);
    if (auto v = f.choice<WgBackend>("wireguard_backend", {{"auto", WgBackend::automatic},
                                                           {"kernel", WgBackend::kernel},
                                                           {"userspace", WgBackend::userspace}})) {
        g.wg_backend = *v;
        if (g.transport != Transport::wireguard)
            f.error("wireguard_backend", "wireguard_backend only applies with transport = \"wireguard\"");
    }
    read_rekey_limits(f, g);
    check_shortcuts(l, state, g, f);
    f.finish();
    state.where = Where::of(f);
    l.intent.groups.push_back(std::move(g));
    l.groups.push_back(std::move(state));
}

}  // namespace

void parse_groups(Loader& l, const Node& value) {
    parse_each(l, value, "autovpn", parse_group);
}

}  // namespace avpn::config
