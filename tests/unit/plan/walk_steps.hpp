// The steps of a packet walk (packet_walk.hpp), shared by its two source
// files: routing at a site (packet_walk.cpp) and crossing a tunnel of either
// transport (walk_transport.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "packet_walk.hpp"

namespace avpn::test::walk {

struct Packet {
    IpAddr src;
    IpAddr dst;
    uint32_t mark = 0;  // active-active: the path's mark at this site (its ct mark), 0: none
};


// A site that takes part in the group, with its part of the plan.
struct At {
    const WalkSite* site = nullptr;
    const GroupPlan* group = nullptr;
    const nl::Link* link = nullptr;  // the group's tunnel interface
};

// Active-active (docs/uplinks.md): path i's WireGuard device of the group.
std::string path_device(const At& x, size_t path);
// The path a device is (0: the group's own), or nullopt: not the group's.
std::optional<size_t> path_of_device(const At& x, const std::string& ifname);
// The site's spread of the group (firewall_table.hpp's PathSpread), or null.
const fw::PathSpread* spread_of(const At& x);

// Every site of the group, to find who is at the other end of a tunnel.
struct GroupSites {
    const std::vector<WalkSite>* sites = nullptr;
    std::string group;
    PolicyTies ties = PolicyTies::most_specific;

    std::optional<At> at(const WalkSite& s) const;
};

// The packet between two sites: who got it and what the receiver needs to
// check where it came from. `to` unset: dropped at the sender (step, why).
struct Crossing {
    std::optional<At> to;
    std::string step;
    std::string why;
    std::string note;  // the trace line of this hop
    bool via_default_route = false;
    bool policy_tie = false;
    std::string sender_key;           // WireGuard: the sender's public key
    std::optional<nl::XfrmSa> sa_in;  // XFRM: the receiver's SA it came through
    size_t path = 0;                  // WireGuard: the path (device) it crossed on
};

Crossing send_wireguard(const GroupSites& sites, const At& x, const Packet& p, size_t path);
Crossing send_xfrm(const GroupSites& sites, const At& x, const Packet& p);

// Empty when the receiver accepts the packet from where it came; otherwise
// why not. XFRM checks the in policy for the site's own address (`local`),
// else the fwd policy.
std::string wireguard_arrival(const At& p, const Crossing& c, const Packet& packet);
std::string xfrm_arrival(const GroupSites& sites, const At& p, const Crossing& c, const Packet& packet, bool local);

// The longest prefix of `prefixes` containing a, or null.
const Prefix* longest_match(const std::vector<Prefix>& prefixes, const IpAddr& a);

}  // namespace avpn::test::walk
