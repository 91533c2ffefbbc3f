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
    const std::vector<Prefix>* exports;
    const std::vector<HubRef>* hubs;
    const std::vector<std::string>* exit_hubs;
    const std::optional<IpAddr>* tunnel_address;
};

// avpnd recomputes this on every plan, incremental ones included, for
// 10,000 members and more: text is appended in place, and IPv4 prefixes are
// written without inet_ntop (which formats through sprintf).
void append_decimal(std::string& out, unsigned v) {
    char buf[4];
    int n = 0;
    do buf[n++] = char('0' + v % 10); while (v /= 10);
    while (n) out += buf[--n];
}

void append_prefix(std::string& out, const Prefix& p) {
    if (p.family() != Family::v4) {
        out += p.str();
        return;
    }
    for (size_t i = 0; i < 4; ++i) {
        if (i) out += '.';
        append_decimal(out, p.addr.bytes[i]);
    }
    out += '/';
    append_decimal(out, unsigned(p.len));
}

void write_entry(std::string& out, const Entry& e, std::vector<Prefix>& scratch) {
    out.append("member ").append(*e.name).append(" ").append(to_string(e.role)).append(" ").append(*e.public_key);
    out.append("\n tunnel_address ").append(e.tunnel_address->has_value() ? (*e.tunnel_address)->str() : "-");
    out += '\n';
    if (e.role == Role::off) return;  // takes no part: its lists route nothing
    scratch.assign(e.exports->begin(), e.exports->end());  // sorted, unique
    std::sort(scratch.begin(), scratch.end());
    scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
    out += " exports";
    for (const Prefix& p : scratch) {
        out += ' ';
        append_prefix(out, p);
    }
    out += "\n hubs";
    for (const HubRef& h : *e.hubs) out.append(" ").append(h.name).append(h.default_route ? "+default_route" : "");
    out += "\n exit_hubs";
    for (const std::string& h : *e.exit_hubs) out.append(" ").append(h);
    out += '\n';
}

}  // namespace

std::string group_canonical_form(const Intent& intent, const Group& g, const std::vector<Prefix>& self_exports) {
    std::vector<Entry> entries;
    entries.reserve(g.members.size() + 1);
    const Site& site = intent.site;
    entries.push_back({&site.name, site.role, &site.public_key, &self_exports, &g.hubs, &g.exit_hubs,
                       &g.tunnel_address});
    for (const Member& m : g.members)
        entries.push_back({&m.name, m.role, &m.public_key, &m.exports, &m.hubs, &m.exit_hubs, &m.tunnel_address});
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return *a.name < *b.name; });

    std::string out = "avpn.group/1\ngroup " + g.name + "\ntunnel_subnet " + g.tunnel_subnet.str() + "\ntransport " +
                      std::string(to_string(g.transport)) + "\n";
    out.reserve(out.size() + entries.size() * 160);
    std::vector<Prefix> scratch;
    for (const Entry& e : entries) write_entry(out, e, scratch);
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
