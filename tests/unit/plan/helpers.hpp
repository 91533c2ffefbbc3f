// Small lookups over a DesiredState for assertions.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "orchestrator/plan/desired_state.hpp"
#include "world.hpp"

namespace avpn::test {

inline const PeerPlan* peer(const DesiredState& s, const std::string& site) {
    for (const PeerPlan& p : s.peers)
        if (p.site == site) return &p;
    return nullptr;
}

inline std::vector<std::string> peer_names(const DesiredState& s) {
    std::vector<std::string> out;
    for (const PeerPlan& p : s.peers) out.push_back(p.site);
    return out;
}

inline bool has(const std::vector<Prefix>& v, const Prefix& p) {
    return std::find(v.begin(), v.end(), p) != v.end();
}

inline Prefix host_of(const IpAddr& a) { return Prefix::host(a); }

// Every object of the two plans is the same.
inline bool same_plan(const DesiredState& a, const DesiredState& b) {
    return a.site == b.site && a.groups == b.groups && a.peers == b.peers && a.links == b.links &&
           a.addresses == b.addresses && a.wireguard == b.wireguard && a.xfrm_states == b.xfrm_states &&
           a.xfrm_policies == b.xfrm_policies && a.routes == b.routes && a.rules == b.rules &&
           a.ipsec == b.ipsec;
}

inline std::string errors_text(const PlanOutcome& o) {
    std::string s;
    for (const Error& e : o.errors) s += e.str() + "\n";
    return s;
}

// A [[firewall]] rule as the loader would make it, at line `line` of site.toml.
inline FwRule rule(FwAction action, std::string from, std::string to, std::string protocol = "any",
                   std::vector<uint16_t> ports = {}, int line = 0) {
    FwRule r;
    r.action = action;
    r.from = std::move(from);
    r.to = std::move(to);
    r.protocol = std::move(protocol);
    r.ports = std::move(ports);
    r.loc = {"site.toml", line, 1};
    return r;
}

}  // namespace avpn::test
