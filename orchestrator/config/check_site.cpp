// Checks across the tables of site.toml: unique names and 802.1Q ids, VLAN
// subnets that overlap, what several groups and tunnels must not share
// (interface names, tables, ports, rule slots), and the references of IPsec
// tunnels and firewall rules.
#include <unordered_map>

#include "common/prefix_index.hpp"
#include "orchestrator/config/loader.hpp"
#include "orchestrator/ownership.hpp"

namespace avpn::config {

namespace {

// Reports the second and later uses of a value, naming the first one.
class Unique {
public:
    Unique(Diag& d, std::string what) : d_(d), what_(std::move(what)) {}
    void add(const std::string& value, const SourceLoc& at, const std::string& field) {
        if (value.empty()) return;
        auto [it, fresh] = seen_.emplace(value, at);
        if (!fresh) d_.error(at, field, what_ + " \"" + value + "\" is already used at " + it->second.str());
    }

private:
    Diag& d_;
    std::string what_;
    std::unordered_map<std::string, SourceLoc> seen_;
};

}  // namespace

void check_vlans(Loader& l) {
    Unique names(l.diag, "VLAN name"), ids(l.diag, "VLAN id");
    std::vector<Prefix> subnets;
    std::vector<std::pair<size_t, size_t>> owner;  // (vlan, subnet index)
    for (size_t i = 0; i < l.intent.vlans.size(); ++i) {
        const Vlan& v = l.intent.vlans[i];
        const Where& w = l.vlans[i];
        names.add(v.name, w.loc("name"), w.field("name"));
        if (v.id) ids.add(std::to_string(*v.id), w.loc("id"), w.field("id"));
        for (size_t s = 0; s < v.subnets.size(); ++s) {
            subnets.push_back(v.subnets[s]);
            owner.emplace_back(i, s);
        }
    }
    for (const PrefixOverlap& o : find_overlaps(subnets)) {
        auto [vi, si] = owner[o.inner];
        auto [vo, so] = owner[o.outer];
        if (vi == vo) continue;
        const Where& w = l.vlans[vi];
        l.diag.error(w.loc(w.has("subnets") ? "subnets" : "subnet"), w.field(w.has("subnets") ? "subnets" : "subnet"),
                     "subnet " + subnets[o.inner].str() + " of VLAN \"" + l.intent.vlans[vi].name + "\" overlaps " +
                         subnets[o.outer].str() + " of VLAN \"" + l.intent.vlans[vo].name + "\" (at " +
                         l.vlans[vo].loc().str() + ")");
    }
}

void check_between_groups(Loader& l) {
    Unique names(l.diag, "group"), tables(l.diag, "routing table"), ports(l.diag, "listen port");
    Unique interfaces(l.diag, "interface name");
    for (size_t i = 0; i < l.intent.site.uplinks.size(); ++i)
        interfaces.add(l.intent.site.uplinks[i].interface, l.intent.site.uplinks[i].loc, l.site.item_field("uplinks", i));
    for (size_t i = 0; i < l.intent.vlans.size(); ++i)
        interfaces.add(l.intent.vlans[i].interface, l.vlans[i].loc("interface"), l.vlans[i].field("interface"));
    for (size_t i = 0; i < l.intent.groups.size(); ++i) {
        const Group& g = l.intent.groups[i];
        const Where& w = l.groups[i].where;
        names.add(g.name, w.loc("group"), w.field("group"));
        interfaces.add(g.interface, w.loc("interface"), w.field("interface"));
        tables.add(std::to_string(g.table), w.loc("table"), w.field("table"));
        // avpnd steers a site that fails over between uplinks through one
        // table per uplink (docs/uplinks.md, "Steering").
        const size_t steered = l.intent.site.failover && l.intent.site.uplinks.size() >= 2 ? l.intent.site.uplinks.size() : 0;
        if (g.table >= own::kUplinkTableBase && g.table < own::kUplinkTableBase + steered)
            l.diag.error(w.loc("table"), w.field("table"),
                         "table " + std::to_string(g.table) + " is avpn's table of uplink \"" +
                             l.intent.site.uplinks[g.table - own::kUplinkTableBase].interface +
                             "\" (tables " + std::to_string(own::kUplinkTableBase) + ".." +
                             std::to_string(own::kUplinkTableBase + steered - 1) +
                             " steer the tunnels to the uplinks); choose another");
        ports.add(std::to_string(g.listen_port), w.loc("listen_port"), w.field("listen_port"));
        // Path i >= 1 of an active-active pair listens on listen_port + i
        // and routes through table own::path_table(i, path) (check_group.cpp).
        for (uint32_t p = 1; p < most_paths(g) && g.listen_port + p <= 65535; ++p)
            ports.add(std::to_string(g.listen_port + p), w.loc("listen_port"), w.field("listen_port") + " + " + std::to_string(p));
        for (size_t j = 0; j < l.intent.groups.size(); ++j)
            for (uint32_t p = 0; p < most_paths(l.intent.groups[j]); ++p)
                if (most_paths(l.intent.groups[j]) > 1 && g.table == own::path_table(j, p))
                    l.diag.error(w.loc("table"), w.field("table"),
                                 "table " + std::to_string(g.table) + " is avpn's table of path " + std::to_string(p) +
                                     " of group \"" + l.intent.groups[j].name + "\" (active-active); choose another");
        for (size_t j = 0; j < i; ++j) {
            uint32_t other = l.intent.groups[j].rule_priority;
            if (g.rule_priority < other + own::kRuleSlot && other < g.rule_priority + own::kRuleSlot)
                l.diag.error(w.loc("rule_priority"), w.field("rule_priority"),
                             "rule priorities " + std::to_string(g.rule_priority) + ".." +
                                 std::to_string(g.rule_priority + own::kRuleSlot - 1) + " overlap those of group \"" +
                                 l.intent.groups[j].name + "\" (" + std::to_string(other) + "..); each group needs " +
                                 std::to_string(own::kRuleSlot));
        }
    }
    for (size_t i = 0; i < l.intent.ipsec.size(); ++i)
        interfaces.add(l.intent.ipsec[i].interface, l.ipsec[i].loc("interface"), l.ipsec[i].field("interface"));
}

void check_ipsec(Loader& l) {
    Unique names(l.diag, "IPsec tunnel"), if_ids(l.diag, "if_id");
    for (size_t i = 0; i < l.intent.ipsec.size(); ++i) {
        IpsecTunnel& t = l.intent.ipsec[i];
        const Where& w = l.ipsec[i];
        names.add(t.name, w.loc("name"), w.field("name"));
        if (t.if_id) if_ids.add(std::to_string(t.if_id), w.loc("if_id"), w.field("if_id"));
        bool known_uplink = false;
        for (const Uplink& u : l.intent.site.uplinks) known_uplink |= u.interface == t.uplink;
        if (w.has("uplink") && w.ok("uplink") && !known_uplink)
            l.diag.error(w.loc("uplink"), w.field("uplink"), "\"" + t.uplink + "\" is not one of [site] uplinks");
        for (size_t v = 0; v < t.local_vlans.size() && w.ok("local_vlans"); ++v) {
            const std::string& name = t.local_vlans[v];
            if (!l.vlan_declared(name))
                l.diag.error(w.item_loc("local_vlans", v), w.item_field("local_vlans", v),
                             l.unknown_vlan(name));
            else if (const Vlan* vlan = l.vlan(name))
                t.local_networks.insert(t.local_networks.end(), vlan->subnets.begin(), vlan->subnets.end());
        }
    }
}

void check_firewall(Loader& l) {
    bool members_known = true;
    std::unordered_map<std::string_view, bool> sites;
    for (size_t g = 0; g < l.intent.groups.size(); ++g) {
        members_known &= l.groups[g].members.loaded;
        for (const Member& m : l.intent.groups[g].members) sites.emplace(m.name, true);
    }
    for (size_t i = 0; i < l.intent.firewall.size(); ++i) {
        const FwRule& r = l.intent.firewall[i];
        const Where& w = l.firewall[i];
        for (auto [key, ref] : {std::pair{"from", &r.from}, {"to", &r.to}}) {
            std::string_view s = *ref;
            if (s.substr(0, 5) == "vlan:" && !l.vlan_declared(s.substr(5)))
                l.diag.error(w.loc(key), w.field(key), l.unknown_vlan(s.substr(5)));
            if (s.substr(0, 5) == "site:" && members_known && !sites.count(s.substr(5)))
                l.diag.error(w.loc(key), w.field(key),
                             "no member named \"" + std::string(s.substr(5)) + "\" in any group's member list");
        }
        // These rules govern traffic between a local VLAN and a peer; two
        // local VLANs (routed by this router alone) or two peers (relayed by
        // a hub) never pass through them, so such a rule could never act.
        for (std::string_view kind : {"vlan:", "site:"})
            if (r.from.starts_with(kind) && r.to.starts_with(kind))
                l.diag.error(w.loc("to"), w.field("to"),
                             "from and to are both " + std::string(kind) +
                                 " references: [[firewall]] rules govern traffic between a local VLAN and an AutoVPN "
                                 "peer; use " + (kind == "vlan:" ? "\"any\", \"site:<member>\" or a peer's prefix"
                                                                  : "\"any\", \"vlan:<VLAN>\" or a local prefix") +
                                 " on one side");
    }
}

}  // namespace avpn::config
