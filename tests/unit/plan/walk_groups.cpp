#include "walk_groups.hpp"

#include <algorithm>

namespace avpn::test {

namespace {

// Member m's k-th network of one kind: 10.m.(64 kind + k).0/24.
Prefix net(size_t member, size_t kind, size_t k) {
    return Prefix{IpAddr::v4(10u << 24 | uint32_t(member) << 16 | uint32_t(64 * kind + k) << 8), 24};
}

std::vector<Prefix> nets(Rng& r, size_t member, size_t kind, size_t most, size_t least = 0) {
    std::vector<Prefix> out;
    for (size_t k = 0, n = least + r.below(most - least + 1); k < n; ++k) out.push_back(net(member, kind, k));
    return out;
}

void give_contact(Rng& r, SiteSpec& s, uint32_t address) {
    s.contact = Endpoint{IpAddr::v4(address), 51820};
    s.live_contact = r.chance(50);
}

std::string prefixes(const std::vector<Prefix>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i].str();
    return s + "]";
}

}  // namespace

World random_group(Rng& r) {
    World w;
    const bool xfrm = r.chance(50);
    w.group.transport = xfrm ? Transport::xfrm : Transport::wireguard;
    const size_t hubs = 1 + r.below(4), spokes = r.below(7);
    std::vector<std::string> hub_names;
    for (size_t i = 0; i < hubs; ++i) hub_names.push_back("h" + std::to_string(i));
    for (size_t i = 0; i < hubs; ++i) {
        SiteSpec& h = w.hub(hub_names[i], nets(r, i, 0, 2, 1));
        h.local_only = nets(r, i, 1, 1);
        if (r.chance(12)) h.role = Role::off;
        if (r.chance(70)) give_contact(r, h, 0xc0000200u + uint32_t(i) + 1);  // 192.0.2.x
        if (hubs > 1 && r.chance(25)) {
            std::vector<std::string> others;
            for (const std::string& n : hub_names)
                if (n != h.name) others.push_back(n);
            r.shuffle(others);
            others.resize(1 + r.below(others.size()));
            h.exit_hubs = others;
        }
    }
    for (size_t j = 0; j < spokes; ++j) {
        const size_t member = hubs + j;
        std::vector<std::string> order = hub_names;
        r.shuffle(order);
        order.resize(1 + r.below(order.size()));
        SiteSpec& s = w.spoke("s" + std::to_string(j), order, nets(r, member, 0, 2));
        if (r.chance(25)) s.hubs[r.below(s.hubs.size())].default_route = true;
        s.local_only = nets(r, member, 1, 1);
        s.unpermitted = nets(r, member, 2, 1);
        if (r.chance(12)) s.role = Role::off;
        // An XFRM SA needs both ends' contacts; a WireGuard spoke is usually behind NAT.
        if (xfrm || r.chance(25)) give_contact(r, s, 0xc6336400u + uint32_t(j) + 1);  // 198.51.100.x
    }
    return w;
}

std::string describe(const World& w) {
    std::string s = "group (" + std::string(to_string(w.group.transport)) + "):";
    for (const SiteSpec& m : w.sites) {
        s += "\n  " + m.name + " " + std::string(to_string(m.role));
        if (!m.hubs.empty()) {
            s += " hubs [";
            for (size_t i = 0; i < m.hubs.size(); ++i)
                s += (i ? " " : "") + m.hubs[i].name + (m.hubs[i].default_route ? "(default)" : "");
            s += "]";
        }
        if (!m.exit_hubs.empty()) {
            s += " exit_hubs [";
            for (size_t i = 0; i < m.exit_hubs.size(); ++i) s += (i ? " " : "") + m.exit_hubs[i];
            s += "]";
        }
        if (std::find(w.dead_hubs.begin(), w.dead_hubs.end(), m.name) != w.dead_hubs.end()) s += " DEAD";
        s += m.contact ? " contact " + m.contact->str() + (m.live_contact ? " (live)" : " (static)") : " no contact";
        s += " exports " + prefixes(m.exports);
        if (!m.local_only.empty()) s += " local " + prefixes(m.local_only);
        if (!m.unpermitted.empty()) s += " unpermitted " + prefixes(m.unpermitted);
    }
    for (const auto& [pair, state] : w.shortcuts)
        s += "\n  shortcut " + pair.first + " <-> " + pair.second + (state == ShortcutState::up ? " up" : " trying");  // or answering
    return s;
}

const SiteSpec* Promise::find(const std::string& name) const {
    for (const SiteSpec& s : w.sites)
        if (s.name == name) return &s;
    return nullptr;
}

bool Promise::dead(const std::string& name) const {
    return std::find(w.dead_hubs.begin(), w.dead_hubs.end(), name) != w.dead_hubs.end();
}

bool Promise::reachable_hub(const std::string& name) const {
    const SiteSpec* h = find(name);
    return h && h->role == Role::hub && h->contact && !dead(name);
}

bool Promise::connected(const SiteSpec& s) const {
    const bool xfrm = w.group.transport == Transport::xfrm;
    if (s.role == Role::off || dead(s.name)) return false;
    if (s.role == Role::hub) {
        if (s.contact) return true;
        if (xfrm) return false;  // nobody can set up an SA towards it
        for (const SiteSpec& h : w.sites)
            if (h.name != s.name && reachable_hub(h.name)) return true;
        return false;
    }
    if (xfrm && !s.contact) return false;
    for (const HubRef& h : s.hubs)
        if (reachable_hub(h.name)) return true;
    return false;
}

bool Promise::exempt(const SiteSpec& a, const SiteSpec& b) const {
    return a.role == Role::hub && b.role == Role::hub && !a.contact && !b.contact;
}

}  // namespace avpn::test
