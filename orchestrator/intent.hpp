// Intent: the typed, validated form of a site's configuration (site.toml plus
// the group member lists it includes). Everything here has already passed
// validation; consumers never re-check syntax. SourceLoc is kept so that
// cross-file checks done later (the planner's collision checks) can still
// point at the line that caused them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"

namespace avpn {

struct SourceLoc {
    std::string file;
    int line = 0;
    int column = 0;
    std::string str() const;  // "file:line:col"
};

enum class Role { hub, spoke, off };
enum class Transport { wireguard, xfrm };
enum class WgBackend { automatic, kernel, userspace };  // auto: UAPI socket present -> userspace
enum class NatMode { automatic, manual };

// One WAN uplink, in order of preference.
struct Uplink {
    std::string interface;
    SourceLoc loc;
};

struct NatTraversal {
    NatMode mode = NatMode::automatic;
    // manual: the public address (port forward) peers must use. The port of
    // each group's contact is that group's public_port (default: listen_port).
    std::optional<IpAddr> public_address;
};

struct Site {
    std::string name;
    Role role = Role::spoke;
    std::vector<Uplink> uplinks;
    bool failover = true;
    bool active_active = false;
    NatTraversal nat;
    std::string key_file;       // X25519 private key, base64, mode 0600 or stricter
    std::string public_key;     // derived from key_file at load time (never the private key)
    // Where avpnd serves Prometheus metrics (an IP literal and a port);
    // nullopt: not served.
    std::optional<Endpoint> metrics;
    SourceLoc loc;
};

struct Vlan {
    std::string name;
    std::optional<uint16_t> id;       // 802.1Q id, 1..4094
    std::vector<Prefix> subnets;      // at least one
    bool shareable = false;           // "Use VPN": may be exported through AutoVPN
    std::string interface;            // optional: the LAN interface (e.g. "lan0.60")
    SourceLoc loc;
};

struct HubRef {
    std::string name;
    bool default_route = false;  // full tunnel through this hub
    SourceLoc loc;
};

// A group member as the group's member list describes it.
struct Member {
    std::string name;
    Role role = Role::spoke;
    std::string public_key;              // base64 X25519 public key (32 bytes)
    std::vector<Prefix> exports;         // prefixes this member exports
    std::vector<HubRef> hubs;            // spokes: ordered hubs
    std::vector<std::string> exit_hubs;  // hubs: full tunnel through these hubs
    std::optional<Endpoint> contact;     // static contact (no registry needed)
    std::optional<IpAddr> tunnel_address;  // pinned tunnel address (else derived)
    // Tunnels this member runs to each peer (docs/uplinks.md "Active-active"):
    // 1, or its number of uplinks with active_active. A pair runs the larger
    // of its two members' counts; path i >= 1 is a device of its own.
    uint8_t paths = 1;
    SourceLoc loc;
};

// Most paths a member may run: one per uplink, and the per-group mark and
// table range (ownership.hpp, kPathTableBase) has room for this many.
inline constexpr uint8_t kMaxPaths = 4;

// A registry of the group (docs/registry.md): where it listens (port
// default 9350) and its public key, pinned here (IK's pre-message).
struct RegistryPin {
    Endpoint endpoint;
    std::string public_key;  // base64
    SourceLoc loc;
    bool operator==(const RegistryPin& o) const { return endpoint == o.endpoint && public_key == o.public_key; }
};

struct Group {
    std::string name;
    Prefix tunnel_subnet;                 // default 100.64.0.0/10
    uint32_t table = 0;                   // avpn's routing table for this group
    uint32_t rule_priority = 0;           // inside avpn's rule band
    Transport transport = Transport::wireguard;
    WgBackend wg_backend = WgBackend::automatic;
    std::string interface;                // tunnel interface name (default "avpn-<group>", <=15 chars)
    uint16_t listen_port = 51820;         // tunnel UDP port (WireGuard / ESP-in-UDP)
    std::optional<uint16_t> public_port;  // manual NAT: forwarded port, default listen_port
    uint16_t keepalive_seconds = 25;      // persistent keepalive (spokes and NATed sites)
    std::vector<RegistryPin> registries;  // the registries avpnd registers with
    std::string group_key_file;           // registry authentication key (0600)
    // How long a peer's contact learned from the registries is kept while no
    // registry confirms it (all unreachable, or the peer unregistered).
    std::chrono::seconds contact_hold{24 * 3600};
    std::vector<std::string> permitted_vlans;  // spokes: VLANs that participate
    std::vector<HubRef> hubs;             // spokes: ordered hubs
    std::vector<std::string> exit_hubs;   // hubs: full tunnel through these hubs
    std::vector<Prefix> advertise;        // hubs: non-connected prefixes to export
    std::optional<IpAddr> tunnel_address;  // pinned tunnel address of this site
    std::string members_file;             // where the member list came from
    std::vector<Member> members;          // every other member (this site excluded)
    std::optional<Endpoint> self_contact;  // this site's contact in its own member-list entry
    uint8_t self_paths = 1;                // `paths` of this site's own member-list entry
    // XFRM: each SA's soft limits, where the kernel tells avpnd to rekey
    // (nullopt: the planner's defaults, docs/plan-json.md "SA defaults").
    std::optional<uint64_t> rekey_bytes, rekey_packets;
    // Direct spoke-to-spoke shortcuts (docs/shortcuts.md): avpnd sets one up
    // between two spokes that exchange traffic through a hub when their NATs
    // allow it. Opt-in per group, as DMVPN's: each costs a WireGuard peer,
    // holes in two NATs and keepalives.
    bool shortcuts = false;
    SourceLoc loc;
};

// The most paths any member of the group runs, this site included: how
// many devices (and ports, listen_port + i) the group may need here.
inline uint8_t most_paths(const Group& g) {
    uint8_t most = g.self_paths;
    for (const Member& m : g.members) most = m.paths > most ? m.paths : most;
    return most;
}

// Bounds of rekey_bytes / rekey_packets (docs/config.md). The upper ones are
// the planner's defaults, a quarter below the SAs' hard limits (4 TiB, 2^32
// packets: one AES-GCM key's bound), so the rekey has that quarter to finish.
// The lower ones keep the handshake (about 500 bytes, 3 packets) under 1 %
// of what an SA carries.
inline constexpr uint64_t kRekeyBytesMin = uint64_t(64) << 10;
inline constexpr uint64_t kRekeyBytesMax = uint64_t(3) << 40;
inline constexpr uint64_t kRekeyPacketsMin = 512;
inline constexpr uint64_t kRekeyPacketsMax = uint64_t(3) << 30;

enum class IpsecPartner { generic, aws, azure };
enum class IpsecTunnelType { policy, route };
enum class DpdAction { clear, hold, restart };

struct IpsecTunnel {
    std::string name;
    bool enabled = true;
    IpsecPartner partner = IpsecPartner::generic;
    IpsecTunnelType type = IpsecTunnelType::policy;  // aws/azure force route
    std::string uplink;                   // bound WAN port; default: first uplink
    std::optional<IpAddr> local_address;  // default: the uplink's address at apply time
    std::string local_id;                 // IKE identity; default: local address
    std::string remote;                   // remote IP or FQDN
    std::string remote_id;                // IKE identity; default: remote
    bool initiator = true;                // false: responder only
    std::string psk_file;                 // 0600 or stricter; never printed
    std::vector<Prefix> remote_networks;
    std::vector<std::string> local_vlans;  // VLAN names (traffic selectors)
    std::vector<Prefix> local_networks;    // resolved from local_vlans
    std::chrono::seconds ike_lifetime{8 * 3600};
    std::chrono::seconds child_lifetime{3600};
    bool rekey = true;     // false: only respond to the peer's rekeys
    bool reauth = false;
    DpdAction dpd_action = DpdAction::restart;
    std::chrono::seconds dpd_delay{10};    // how often liveness is checked
    std::chrono::seconds dpd_timeout{30};  // how long before acting
    std::vector<std::string> ike_proposals;  // empty: partner defaults
    std::vector<std::string> esp_proposals;
    uint32_t if_id = 0;     // route-based: XFRM interface id (0: derived)
    std::string interface;  // route-based: XFRM interface name (default "avx-<name>")
    bool client_vpn = false;  // reserved: accepted, not acted on
    SourceLoc loc;
};

enum class FwAction { allow, deny };

// A firewall rule between local VLANs and AutoVPN peers' prefixes.
// Endpoints name a VLAN ("vlan:Management"), a site ("site:london"),
// a prefix ("10.0.0.0/8") or "any".
struct FwRule {
    std::string comment;
    FwAction action = FwAction::allow;
    std::string from;
    std::string to;
    std::string protocol = "any";  // any | tcp | udp | icmp
    std::vector<uint16_t> ports;   // destination ports (tcp/udp)
    SourceLoc loc;
};

struct Intent {
    std::string file;  // the site.toml it came from
    Site site;
    std::vector<Vlan> vlans;
    std::vector<Group> groups;
    std::vector<IpsecTunnel> ipsec;
    std::vector<FwRule> firewall;
};

std::string_view to_string(Role);
std::string_view to_string(Transport);
std::string_view to_string(WgBackend);
std::string_view to_string(IpsecPartner);
std::string_view to_string(IpsecTunnelType);
std::string_view to_string(DpdAction);
std::string_view to_string(FwAction);

}  // namespace avpn
