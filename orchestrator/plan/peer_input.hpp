// A group's plan splits by what each object depends on:
// - per peer: its routes, its WireGuard peer or its XFRM SAs and policies,
//   and its PeerPlan are built from that peer's PeerInput and the group's
//   GroupConstants alone;
// - group-wide: the interface, its address, the tunnel-subnet route, the
//   rules, the WireGuard device's own settings and the XFRM block policies
//   also read aggregates over all peers (GroupAggregates).
// The full planner emits both; the incremental planner (incremental.hpp)
// compares PeerInputs and re-emits only the peers whose input changed. One
// set of emitters serves both, so the two cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::planner {

// Everything group-wide a peer's objects are built from. A change here
// changes every peer's objects.
struct GroupConstants {
    std::string group;
    Transport transport = Transport::wireguard;
    std::string interface;
    uint32_t table = 0;
    std::string site;           // this site's name
    Role site_role = Role::spoke;
    NatMode nat_mode = NatMode::automatic;
    uint16_t keepalive_seconds = 0;
    // XFRM
    std::string key_file;
    uint16_t listen_port = 0;
    uint32_t if_id = 0;
    uint32_t spi_tag = 0;
    uint32_t my_slot = 0;
    std::vector<IpAddr> uplinks;  // known uplink addresses, preferred first
    uint64_t rekey_bytes = 0, rekey_packets = 0;  // each SA's soft limits
    // Active-active (docs/uplinks.md): the most paths a peer runs with this
    // site; path i >= 1 is device path_device(i), port listen_port + i, and
    // table path_table_first + i.
    uint8_t paths = 1;
    uint32_t path_table_first = 0;
    std::string path_device(size_t i) const { return interface + ".p" + std::to_string(i); }
    // XFRM path i >= 1: its interface's if_id, and the local addresses its
    // SAs may leave from, preferred first (path i's own uplink while it
    // carries, at a site with active_active); index 0 is path 0's `uplinks`.
    uint32_t path_if_id_first = 0;
    uint32_t path_if_id(size_t i) const { return path_if_id_first + uint32_t(i); }
    std::vector<std::vector<IpAddr>> path_uplinks;
    bool operator==(const GroupConstants&) const = default;
};

// XFRM path i >= 1 with one peer (docs/uplinks.md "Active-active"): an
// independent key exchange on port listen_port + i, like path 0's.
struct XfrmPath {
    // Where it reaches the peer: the source of the peer's authenticated
    // messages on this path (PlanInputs::path_roamed), else its contact +
    // i at the end that initiates. None: the path waits, and its flows stay
    // on path 0 (no route in its table).
    std::optional<Endpoint> endpoint;
    std::optional<XfrmSessionSas> sessions;  // avpnd: the SAs its handshakes made
    bool operator==(const XfrmPath&) const = default;
};

// Everything one peer's objects are built from besides the constants.
struct PeerInput {
    std::string name;
    Role role = Role::spoke;
    std::string public_key;
    std::optional<Endpoint> endpoint;
    IpAddr tunnel_address;
    std::vector<Prefix> allowed;  // sorted, unique
    bool default_route = false;
    uint32_t reqid = 0;  // XFRM
    uint32_t slot = 0;   // XFRM: SPI slot
    std::optional<XfrmSessionSas> sessions;  // XFRM: SAs from the handshake (PlanInputs)
    std::optional<ShortcutState> shortcut;   // another spoke, reached by a shortcut
    uint8_t paths = 1;                       // tunnels with this peer (active-active)
    std::optional<Endpoint> contact;         // its member-list contact: path i's endpoint is port + i
    // Its allowed prefixes on path i >= 1 (device and table): `allowed`
    // without the more specific prefixes of peers that run one path
    // (prefix_subtract.hpp). A group-wide fact kept per peer, so a change
    // elsewhere re-emits it in the incremental planner.
    std::vector<Prefix> path_allowed;
    std::vector<XfrmPath> xfrm_paths;  // XFRM: path i >= 1 at index i - 1
    bool operator==(const PeerInput&) const = default;
};

// Facts over all peers that group-wide objects depend on; index 0 is IPv4,
// 1 is IPv6.
struct GroupAggregates {
    bool routed[2] = {false, false};         // the tunnel subnet's or any allowed prefix's family
    bool default_routed[2] = {false, false}; // some peer carries a default route
    bool default_ready[2] = {false, false};  // ... and has its XFRM tunnel (not pending)
    bool full_tunnel = false;
};

GroupAggregates aggregate(const GroupConstants&, const Prefix& tunnel_subnet, const std::vector<PeerInput>&);

// Appends the peer's routes and XFRM objects to `state` and its WireGuard
// peer to `device` (WireGuard groups; device->peers is left unsorted).
// Returns the peer as plan and status show it.
PeerPlan emit_peer(const GroupConstants&, const PeerInput&, nl::WgDevice* device, DesiredState& state);

}  // namespace avpn::planner
