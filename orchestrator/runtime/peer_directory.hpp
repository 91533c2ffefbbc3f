// Every member of the site's groups as an operator looks for it: by site
// name, with its role, tunnel address, exports and how this site reaches it
// (a tunnel of its own to its endpoint, or through a hub), joined with what
// the tunnels report (WireGuard's handshake and counters, the XFRM key
// exchange's state). `avpnctl status` and the metrics both read it.
//
// The names come from the plan, not from the kernel: a WireGuard device
// knows its peers by public key only. avpnd has the committed plan's pieces
// (planner::SitePieces); the one-shot plans the applied config again
// (without live inputs, as the one-shot apply did).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/site_pieces.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::runtime {

struct PeerRow {
    std::string group, site, role;  // role: "hub" | "spoke"
    std::string transport;          // "wireguard" | "xfrm"
    std::string interface;
    std::string public_key;
    std::optional<IpAddr> tunnel_address;  // unknown only for a member no allocation names
    std::vector<Prefix> exports;    // what the member exports (its member-list entry)
    // A peer of this site (a tunnel of its own): its endpoint and where that
    // came from, "static" (the member list's contact), "learned" (a live
    // contact) or "" (none: it must reach this site first).
    std::optional<Endpoint> endpoint;
    std::string contact;
    // Not a peer of this site: the hub its traffic goes through ("" when no
    // peer routes its exports).
    bool direct = true;
    std::string via;
    // Another spoke this site has a direct shortcut with (docs/shortcuts.md):
    // "trying" (its traffic still goes `via` a hub) or "up"; "" otherwise.
    std::string shortcut;
    // avpnd's shortcut keeper on a spoke it could have one with, when none
    // runs (`shortcut_idle`): "idle" or "held" (a back-off after a failure),
    // and why (a NAT type, how the last one ended); `shortcut_for_ms`: the
    // back-off left.
    std::string shortcut_idle;
    std::string shortcut_why;
    std::optional<int64_t> shortcut_for_ms;
    // WireGuard, from the device (absent when it could not be read).
    std::optional<int64_t> last_handshake;  // unix time, 0: never
    std::optional<uint64_t> rx_bytes, tx_bytes;
    // XFRM, from avpnd's key exchange.
    std::optional<bool> up;
    std::optional<int64_t> handshake_age;  // seconds
    // avpnd's uplink probes to this peer's endpoint (a hub with a static
    // contact is a probe target) through the uplink the tunnels use:
    // `probe_uplink` empty when none. Over the last 10 rounds.
    std::string probe_uplink;
    size_t probes = 0, probes_lost = 0;
    std::optional<double> probe_latency_ms;  // mean RTT of the answered ones
    // Active-active (docs/uplinks.md): the peer's tunnel on each path i >= 1,
    // its own device, as that device shows it (the fields above are path 0's).
    struct Path {
        std::string device;
        std::optional<Endpoint> endpoint;
        std::optional<int64_t> last_handshake;  // unix time, 0: never
        std::optional<uint64_t> rx_bytes, tx_bytes;
    };
    std::vector<Path> paths;
};

// The planner's decisions (avpnd: the committed pieces; the one-shot:
// planner::decide() again), one row per peer and one per member reached
// through a hub; sorted by site name, then group.
std::vector<PeerRow> peer_rows(const Intent& intent, const planner::SitePieces& pieces);

// Adds the devices' handshake times and counters to the WireGuard rows, by
// interface and public key.
void add_wireguard(std::vector<PeerRow>& rows, const std::map<std::string, wg::WgDeviceStatus>& devices);

}  // namespace avpn::runtime
