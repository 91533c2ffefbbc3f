#include "orchestrator/plan/group_fingerprint.hpp"

#include <algorithm>

#include "orchestrator/plan/stable_hash.hpp"

namespace avpn::planner {

namespace {

// What routing needs to know of one member. Names, keys, prefixes and
// addresses hold no spaces or newlines, so space-separated lines are
// unambiguous.
struct Entry {
    const std::string* name;
    Role role;
    const std::string* public_key;
    std::vector<Prefix> exports;  // sorted, unique
    const std::vector<HubRef>* hubs;
    const std::vector<std::string>* exit_hubs;
    const std::optional<IpAddr>* tunnel_address;
};

std::vector<Prefix> sorted_unique(std::vector<Prefix> ps) {
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
    return ps;
}

void write_entry(std::string& out, const Entry& e) {
    out += "member " + *e.name + " " + std::string(to_string(e.role)) + " " + *e.public_key + "\n";
    out += " tunnel_address " + (e.tunnel_address->has_value() ? (*e.tunnel_address)->str() : std::string("-")) + "\n";
    if (e.role == Role::off) return;  // takes no part: its lists route nothing
    out += " exports";
    for (const Prefix& p : e.exports) out += " " + p.str();
    out += "\n hubs";
    for (const HubRef& h : *e.hubs) out += " " + h.name + (h.default_route ? "+default_route" : "");
    out += "\n exit_hubs";
    for (const std::string& h : *e.exit_hubs) out += " " + h;
    out += "\n";
}

}  // namespace

std::string group_canonical_form(const Intent& intent, const Group& g, const std::vector<Prefix>& self_exports) {
    std::vector<Entry> entries;
    entries.reserve(g.members.size() + 1);
    const Site& site = intent.site;
    entries.push_back({&site.name, site.role, &site.public_key, sorted_unique(self_exports), &g.hubs, &g.exit_hubs,
                       &g.tunnel_address});
    for (const Member& m : g.members)
        entries.push_back({&m.name, m.role, &m.public_key, sorted_unique(m.exports), &m.hubs, &m.exit_hubs,
                           &m.tunnel_address});
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return *a.name < *b.name; });

    std::string out = "avpn.group/1\ngroup " + g.name + "\ntunnel_subnet " + g.tunnel_subnet.str() + "\ntransport " +
                      std::string(to_string(g.transport)) + "\n";
    for (const Entry& e : entries) write_entry(out, e);
    return out;
}

std::string group_fingerprint(const Intent& intent, const Group& g, const std::vector<Prefix>& self_exports) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::array<uint8_t, 32> digest = sha256(group_canonical_form(intent, g, self_exports));
    std::string out;
    for (size_t i = 0; i < 16; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

}  // namespace avpn::planner
