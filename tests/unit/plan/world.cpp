#include "world.hpp"

#include <stdexcept>

namespace avpn::test {

Prefix P(const char* text) {
    auto p = Prefix::parse(text);
    if (!p) throw std::invalid_argument(text);
    return *p;
}

IpAddr A(const char* text) {
    auto a = IpAddr::parse(text);
    if (!a) throw std::invalid_argument(text);
    return *a;
}

Endpoint E(const char* text) {
    auto e = Endpoint::parse(text);
    if (!e) throw std::invalid_argument(text);
    return *e;
}

std::string public_key_of(const std::string& site) { return "pk-" + site; }

World::World() {
    group.name = "corp";
    group.tunnel_subnet = P("100.64.0.0/10");
    group.table = 7100;
    group.rule_priority = 7010;
    group.interface = "avpn-corp";
    group.listen_port = 51820;
    group.keepalive_seconds = 25;
    group.loc = {"site.toml", 10, 1};
}

SiteSpec& World::hub(const std::string& name, std::vector<Prefix> exports) {
    sites.push_back({name, Role::hub, std::move(exports), {}, {}, {}, {}});
    return sites.back();
}

SiteSpec& World::spoke(const std::string& name, std::vector<std::string> hubs,
                       std::vector<Prefix> exports) {
    SiteSpec s{name, Role::spoke, std::move(exports), {}, {}, {}, {}};
    for (auto& h : hubs) s.hubs.push_back({h, false, {}});
    sites.push_back(std::move(s));
    return sites.back();
}

SiteSpec& World::site(const std::string& name) {
    for (auto& s : sites)
        if (s.name == name) return s;
    throw std::invalid_argument(name);
}

namespace {

Member member_of(const SiteSpec& s) {
    Member m;
    m.name = s.name;
    m.role = s.role;
    m.public_key = public_key_of(s.name);
    m.exports = s.exports;
    m.hubs = s.hubs;
    m.exit_hubs = s.exit_hubs;
    if (!s.live_contact) m.contact = s.contact;
    m.tunnel_address = s.pinned;
    m.paths = s.paths;
    m.loc = {"members.toml", 1, 1};
    return m;
}

}  // namespace

Intent World::intent_for(const std::string& name) const {
    Intent in;
    in.file = "site.toml";
    in.groups.push_back(group);
    Group& g = in.groups.back();
    for (const SiteSpec& s : sites) {
        if (s.name != name) {
            g.members.push_back(member_of(s));
            continue;
        }
        in.site.name = s.name;
        in.site.role = s.role;
        in.site.uplinks = {{"wan0", {}}};
        for (uint8_t i = 1; i < s.paths; ++i) in.site.uplinks.push_back({"wan" + std::to_string(i), {}});
        in.site.active_active = s.paths > 1;
        g.self_paths = s.paths;
        in.site.key_file = "/etc/avpn/" + s.name + ".key";
        in.site.public_key = public_key_of(s.name);
        g.hubs = s.hubs;
        g.exit_hubs = s.exit_hubs;
        g.tunnel_address = s.pinned;
        if (!s.live_contact) g.self_contact = s.contact;  // its own entry in the shared member list
        for (size_t i = 0; i < s.exports.size(); ++i) {
            Vlan v;
            v.name = "vlan" + std::to_string(i);
            v.subnets = {s.exports[i]};
            v.shareable = true;
            in.vlans.push_back(v);
            if (s.role == Role::spoke) g.permitted_vlans.push_back(v.name);
        }
        for (size_t i = 0; i < s.local_only.size(); ++i)
            in.vlans.push_back(Vlan{"local" + std::to_string(i), {}, {s.local_only[i]}, false, {}, {}});
        for (size_t i = 0; i < s.unpermitted.size(); ++i)
            in.vlans.push_back(Vlan{"unpermitted" + std::to_string(i), {}, {s.unpermitted[i]}, true, {}, {}});
    }
    in.ipsec = ipsec;
    return in;
}

PlanInputs World::inputs_for(const std::string& name) const {
    PlanInputs in;
    for (const SiteSpec& s : sites) {
        if (s.name == name && s.contact) in.uplink_addresses["wan0"] = s.contact->addr;
        if (s.live_contact && s.contact) in.contacts[{group.name, s.name}] = *s.contact;
    }
    for (const std::string& hub : dead_hubs)
        if (hub != name && peers_with_hub(name, hub)) in.dead_peers.insert({group.name, hub});
    for (const auto& [pair, state] : shortcuts) {
        if (pair.first == name) in.shortcuts[{group.name, pair.second}] = state;
        if (pair.second == name) in.shortcuts[{group.name, pair.first}] = state;
    }
    return in;
}

bool World::peers_with_hub(const std::string& name, const std::string& hub) const {
    for (const SiteSpec& s : sites) {
        if (s.name != name) continue;
        if (s.role == Role::hub) return true;
        for (const HubRef& h : s.hubs)
            if (h.name == hub) return true;
    }
    return false;
}

PlanOutcome World::plan_for(const std::string& name) const {
    return plan(intent_for(name), inputs_for(name));
}

World three_hubs_three_spokes() {
    World w;
    w.hub("sanjose", {P("10.1.0.0/16")});
    w.hub("sf", {P("10.2.0.0/16")});
    w.hub("tokyo", {P("10.3.0.0/16")});
    w.spoke("london", {"sanjose", "sf"}, {P("10.10.1.0/24")});
    w.spoke("paris", {"sf"}, {P("10.10.2.0/24"), P("10.10.22.0/24")});
    w.spoke("rome", {"tokyo", "sf"}, {P("10.10.3.0/24")});
    return w;
}

World hub_and_spokes(size_t spokes, size_t vlans, Transport transport) {
    World w;
    w.group.transport = transport;
    w.hub("hub", {P("10.255.0.0/16")}).contact = E("192.0.2.1:51820");
    for (size_t i = 0; i < spokes; ++i) {
        std::vector<Prefix> exports;
        for (size_t v = 0; v < vlans; ++v) {
            uint32_t net = (10u << 24) | uint32_t((i * vlans + v) << 8);
            exports.push_back(Prefix{IpAddr::v4(net), 24});
        }
        SiteSpec& s = w.spoke("s" + std::to_string(i), {"hub"}, std::move(exports));
        s.contact = Endpoint{IpAddr::v4((198u << 24) | (18u << 16) | uint32_t(i)), 51820};
    }
    return w;
}

}  // namespace avpn::test
