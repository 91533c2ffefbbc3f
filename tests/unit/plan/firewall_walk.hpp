// A packet through a planned table inet avpn, evaluated the way nftables
// does (base chain forward, then the regular chain rules, first match wins),
// so the planner's tests assert what happens to traffic rather than the
// shape of the rules.
#pragma once

#include <algorithm>
#include <string>

#include "orchestrator/plan/firewall_table.hpp"

namespace avpn::test {

struct Packet {
    IpAddr src, dst;
    std::string protocol;      // "tcp", "udp", "icmp", "ipv6-icmp"
    uint16_t dport = 0;
    bool established = false;  // a reply of (or related to) a connection conntrack knows
};

enum class Fate { untouched, accepted, dropped };

struct Walked {
    Fate fate = Fate::untouched;
    std::string counter;  // of the rule that decided; empty: none
};

inline bool in(const fw::FirewallTable& t, const fw::AddrMatch& m, const IpAddr& a) {
    if (m.set.empty()) return m.prefix.contains(a);
    for (const fw::Set& s : t.sets)
        if (s.name == m.set)
            return std::any_of(s.elements.begin(), s.elements.end(), [&](const Prefix& p) { return p.contains(a); });
    return false;  // nft would refuse a rule naming a missing set; the tests check names separately
}

inline bool matches(const fw::FirewallTable& t, const fw::Rule& r, const Packet& p) {
    if (p.src.family != r.family) return false;
    if (r.saddr && !in(t, *r.saddr, p.src)) return false;
    if (r.daddr && !in(t, *r.daddr, p.dst)) return false;
    if (r.established && !p.established) return false;
    if (!r.protocol.empty() && r.protocol != p.protocol) return false;
    if (!r.dports.empty() && std::find(r.dports.begin(), r.dports.end(), p.dport) == r.dports.end()) return false;
    return true;
}

inline Walked walk(const fw::FirewallTable& t, const Packet& p) {
    auto jump = std::find_if(t.forward.begin(), t.forward.end(), [&](const fw::Rule& r) { return matches(t, r, p); });
    if (jump == t.forward.end()) return {};  // policy accept: not avpn's traffic
    for (const fw::Rule& r : t.rules)
        if (matches(t, r, p)) return {r.verdict == fw::Verdict::drop ? Fate::dropped : Fate::accepted, r.counter};
    return {};  // a regular chain's end returns to forward, whose policy accepts
}

}  // namespace avpn::test
