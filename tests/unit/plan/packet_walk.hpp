// A packet walk over the plans of every site of one AutoVPN group: follow a
// packet (src, dst) from the site where it starts, hop by hop, doing what
// the kernel would do with the planned objects alone, until it is delivered
// at a site's own network or dropped. Tests use it to check what the plans
// mean together (can london reach paris?) instead of how each plan looks.
//
// At each site X:
//  1. Routing. X's tunnel address is local. Otherwise avpn's rules of the
//     destination's family are consulted by priority: a rule on main sees
//     X's own networks (VLAN subnets, a hub's advertised prefixes) and a
//     default route to the internet, and suppress_prefixlength 0 hides that
//     default route; a rule on another table takes the longest prefix of its
//     routes. After the rules comes main itself. X's own network delivers at
//     X, a route on the group's interface goes into the tunnel, anything else
//     has left avpn.
//  2. Into the tunnel. WireGuard: the peer whose allowed IPs match dst
//     longest; the pair is up when either side has an endpoint for the
//     other. XFRM: the out policy of best priority whose selector matches;
//     a block policy drops; its template's reqid names the SA; the pair is
//     up when both SAs of the pair exist on both sides.
//  3. Arrival at the peer P. WireGuard: src must match P's allowed IPs of
//     X's key longest. XFRM: the best in (local) or fwd policy matching
//     (src, dst) must have a template for the SA the packet came through.
//  4. On at P, at most one visit per site (a second one is a loop).
// Active-active: the source puts a connection towards a multi-path peer on
// the path asked for (its ct mark), an arrival on path i's device puts it on
// path i, and the mark takes the rules to path i's table and device; the
// receiver checks its own device of that path.
#pragma once

#include <string>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"

namespace avpn::test {

// One site as the walk sees it: its plan, and the networks main routes to
// at the site (every VLAN subnet, shared or not, and what a hub advertises),
// which no plan lists.
struct WalkSite {
    std::string name;
    std::vector<Prefix> lans;
    DesiredState plan;
};

// The site's LANs: the subnets of every VLAN of its intent and the prefixes
// its groups advertise.
WalkSite walk_site(const Intent& intent, DesiredState plan);

struct Walk {
    bool delivered = false;
    std::vector<std::string> hops;  // sites visited, the source first
    std::vector<std::string> trace; // one line per decision, for humans
    // Dropped (or left avpn): where, at which step, why.
    std::string dropped_at;
    std::string step;
    std::string why;
    // A hop followed a default route (full tunnel): such a packet can reach
    // the exit site's own networks, shared or not.
    bool via_default_route = false;
    // Two XFRM policies of different templates matched at the best
    // priority (see PolicyTies).
    bool policy_tie = false;

    const std::string& delivered_at() const { return hops.back(); }
    std::string str() const;
};

// XFRM policies of equal priority whose selectors both match: the kernel
// applies the one installed first. Plans do not fix that order, but a fresh
// apply installs policies sorted by selector, so a 0/0 selector goes first.
enum class PolicyTies {
    most_specific,    // what the plan means: the longest selector wins
    first_installed,  // what the kernel does after a fresh apply
};

class PacketWalker {
public:
    PacketWalker(std::string group, std::vector<WalkSite> sites, PolicyTies ties = PolicyTies::most_specific);

    // The sites that take part in the group (those whose plan has it).
    std::vector<std::string> members() const;
    const WalkSite* site(const std::string& name) const;
    // This site's tunnel address in the group; unset when it takes no part.
    std::optional<IpAddr> tunnel_address(const std::string& site) const;

    // `path`: the path a connection from `from` takes where that site spreads
    // flows over several (active-active); elsewhere only 0.
    Walk walk(const std::string& from, const IpAddr& src, const IpAddr& dst, size_t path = 0) const;

private:
    std::string group_;
    std::vector<WalkSite> sites_;
    PolicyTies ties_;
};

// A host inside p (its first address after the network address, or p's
// only address).
IpAddr host_in(const Prefix& p);

}  // namespace avpn::test
