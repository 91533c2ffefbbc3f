// The firewall planner: a site's [[firewall]] rules plus what its groups'
// member lists say of every peer (exports, tunnel address) -> table inet
// avpn (firewall_table.hpp). Pure: no I/O, same input, same table.
// docs/firewall.md is the design this implements.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/firewall_table.hpp"

namespace avpn::fw {

// One active member of one of the site's groups, this site excluded. A
// member of two groups appears twice (its tunnel address differs).
struct PeerSite {
    std::string name;
    std::vector<Prefix> exports;
    IpAddr tunnel_address;
    bool operator==(const PeerSite&) const = default;
};

// Errors (a rule that can never match, a site: naming no peer) name the
// rule's file:line:col and field. The table is still whole when there are
// errors, but must then not be applied.
FirewallTable plan_firewall(const Intent& intent, const std::vector<PeerSite>& peers, Errors& errors);

// One plan_firewall call: everything it read, and what it gave.
struct PlannedFirewall {
    std::vector<Vlan> vlans;
    std::vector<FwRule> rules;
    std::vector<PeerSite> peers;
    FirewallTable table;
    Errors errors;
};

// plan_firewall, or `previous` itself when everything plan_firewall reads
// (VLAN names and subnets, the rules, the peers) equals what it read then:
// it is pure, so the table and errors would be the same. avpnd's planner
// hands back its last one (allocations.hpp), so a change that touches no
// member's exports or tunnel address skips the planning.
std::shared_ptr<const PlannedFirewall> plan_firewall_reusing(const Intent& intent, std::vector<PeerSite> peers,
                                                             std::shared_ptr<const PlannedFirewall> previous);

}  // namespace avpn::fw
