// After an uplink switch: conntrack entries of avpn's own tunnel traffic on
// a path the tunnels left are deleted (docs/uplinks.md, "Conntrack"). A NAT
// decision is fixed when its entry is made, and a tunnel's keepalives keep
// an entry alive for ever, so an entry made while the tunnel left wan0 (a
// masquerade's mapping to wan0's address) would go on rewriting packets of
// the same tuple after the tunnels moved.
//
// Ownership: an entry is avpn's only when one end of its original tuple is
// this site's tunnel socket: an uplink's address with a tunnel port (every
// group's listen port, WireGuard and ESP-in-UDP alike), as the source of
// what the site sent or, not redirected elsewhere, the destination of what
// it received. A LAN host's flow to some port 51820 has no uplink address as
// its original source and is never touched, masqueraded or not.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "netlink/conntrack.hpp"
#include "netlink/socket.hpp"

namespace avpn::runtime {

struct TunnelPath {
    std::set<uint16_t> ports;        // the groups' listen ports
    std::set<IpAddr> uplink_addresses;  // every uplink's, before and after the switch
    IpAddr active;                   // the new active uplink's address
};

// avpn's tunnel traffic, on whichever path.
bool is_tunnel_entry(const nl::CtEntry& e, const TunnelPath& p);
// ... and not on the active uplink: one of its local addresses (the
// original source or destination, or the address a masquerade gave it) is
// not the active uplink's.
bool is_stale_tunnel_entry(const nl::CtEntry& e, const TunnelPath& p);

struct SweepResult {
    size_t deleted = 0;
    std::vector<std::string> deleted_entries;  // CtEntry::str(), for the log
    // No conntrack here (no nf_conntrack or ctnetlink, nothing to flush):
    // said once by the caller, never an error.
    std::optional<std::string> unavailable;
    std::vector<Error> errors;  // a dump or a delete that failed otherwise
};

// One dump per family of p's uplink addresses, then a delete of each stale
// entry. An entry gone meanwhile (ENOENT) is neither deleted nor an error.
SweepResult sweep_stale_tunnel_entries(nl::Transport& nfnl, const TunnelPath& p);
// The same on a NETLINK_NETFILTER socket of its own.
SweepResult sweep_stale_tunnel_entries(const TunnelPath& p);

// errno values that mean "this kernel has no conntrack to talk to".
bool conntrack_unavailable(int code);

}  // namespace avpn::runtime
