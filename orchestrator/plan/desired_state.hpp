// DesiredState: everything avpn will own in the kernel and in charon for one
// site, as the pure planner computes it. Every vector is sorted and free of
// duplicates, so two plans (or a plan and a dump) diff with a linear merge and
// a golden file is byte-stable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "netlink/objects.hpp"
#include "orchestrator/plan/firewall_table.hpp"
#include "plugins/vici/connection.hpp"

namespace avpn {

// A tunnel peer as the planner decided it, for humans (plan, status) and for
// the registry client (which peers to ask contacts for).
struct PeerPlan {
    std::string group;
    std::string site;
    std::string role;            // "hub" | "spoke"
    std::string public_key;
    IpAddr tunnel_address;
    std::vector<Prefix> allowed; // prefixes routed to this peer
    std::optional<Endpoint> endpoint;
    bool default_route = false;  // full tunnel through this peer
    // Why no tunnel to this peer can be set up yet (XFRM: no contact, or no
    // local uplink address of the contact's family). Empty: ready.
    std::string pending;
    // Another spoke reached by a direct shortcut: "trying" (handshaking, the
    // traffic still on the hub) or "up" (carrying it); empty otherwise.
    std::string shortcut;
    // Tunnels to this peer, one per path (active-active; docs/uplinks.md):
    // path i >= 1 is the group's device "<interface>.p<i>".
    uint8_t paths = 1;
    auto operator<=>(const PeerPlan&) const = default;
};

struct GroupPlan {
    std::string group;
    std::string interface;
    IpAddr tunnel_address;
    std::vector<Prefix> exports;  // what this site exports to the group
    bool full_tunnel = false;
    std::string fingerprint;      // group_fingerprint(): equal at every site of a consistent group
    auto operator<=>(const GroupPlan&) const = default;
};

// The kernel objects (links, addresses, wireguard, xfrm_states,
// xfrm_policies, routes, rules) come from nl::KernelState, so the reconciler
// diffs a plan against a dump of the same type.
struct DesiredState : nl::KernelState {
    std::string site;
    std::vector<GroupPlan> groups;
    std::vector<PeerPlan> peers;

    // charon (vici)
    std::vector<vici::Connection> ipsec;

    // nftables: table inet avpn (docs/firewall.md); none for a site whose
    // role is off. Planned and shown, not yet written by apply.
    std::optional<fw::FirewallTable> firewall;
};

}  // namespace avpn
