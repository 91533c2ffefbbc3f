// The planner: a pure function from a site's Intent (plus what the registry
// and the interfaces tell the daemon) to the complete DesiredState of that
// site. No I/O, no clock, no randomness: the same input gives a byte-identical
// output, every vector sorted and free of duplicates. docs/planner.md
// describes the rules; this header is the whole interface.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"

namespace avpn {

// One ESP SA of an XFRM peer whose keys came from avpnd's handshake
// (plugins/keying/peer_session.hpp): the SPI and the id of its key in the
// runtime's key store. The key itself never enters a plan.
struct SessionSa {
    uint32_t spi = 0;
    uint64_t key_id = 0;
    auto operator<=>(const SessionSa&) const = default;
};

// The SAs one XFRM peer should have right now, as its key life cycle says.
struct XfrmSessionSas {
    std::vector<SessionSa> inbound;     // the current one, an unconfirmed and a lingering one
    std::optional<SessionSa> outbound;  // none until the first handshake completes
    bool operator==(const XfrmSessionSas&) const = default;
};

// A direct spoke-to-spoke shortcut as avpnd's shortcut keeper sees it
// (docs/shortcuts.md): `trying` adds the other spoke as a WireGuard peer at
// its contact with no prefixes and a keepalive, so this end initiates the
// handshake while the traffic still goes through the hub; `answering` is
// the same without the keepalive (the other end initiates: two initiations
// that cross can keep both ends without a session for minutes); `up`
// (after that handshake) moves the other spoke's prefixes onto it.
enum class ShortcutState { trying, answering, up };

struct PlanInputs {
    // Live contacts from the registries, (group, site) -> contact, this
    // site's own as the registries observe it included; they override the
    // static contacts of the member lists (avpnd only asks the registries
    // for members without one, docs/registry.md "In avpnd").
    std::map<std::pair<std::string, std::string>, Endpoint> contacts;
    // WAN interface name -> its primary address (read by apply / the daemon).
    std::map<std::string, IpAddr> uplink_addresses;
    // avpnd only, from its uplink selector (docs/uplinks.md): the uplinks
    // that carry the tunnels, in order of preference. With it, and two or
    // more uplinks with failover, the plan steers: each uplink gets a table
    // of its own with its default routes (uplink_default_routes), its
    // address a rule to that table, and the WireGuard devices the fwmark of
    // the active uplink's. Absent (a one-shot apply): the tunnels use the
    // first uplink with an address, through the main table. Empty (every
    // uplink down): as absent, so nothing is torn down while none works.
    std::optional<std::vector<std::string>> active_uplinks;
    // WAN interface name -> its default routes in the main table.
    std::map<std::string, std::vector<nl::Route>> uplink_default_routes;
    // True in avpnd, which runs the XFRM key exchange: every XFRM peer gets
    // exactly the SAs of its entry in xfrm_sessions, (group, peer site) ->
    // the SAs its handshakes made, and none before its first handshake (the
    // group's policies drop its traffic meanwhile). False (`avpnctl plan`,
    // the planner's tests): static SAs derived from the key files
    // (reconcile/xfrm_keys.hpp), as both ends of a group can be walked.
    bool xfrm_handshake = false;
    std::map<std::pair<std::string, std::string>, XfrmSessionSas> xfrm_sessions;
    // Peers this site found dead, (group, peer site): avpnd's key exchange
    // heard nothing authenticated from them for its dead_after. A dead hub
    // counts as unreachable in this site's relay rule, like a withdrawn
    // contact, but stays a peer with its endpoint, so its handshakes go on
    // and it comes back. A dead spoke changes nothing. Only the dead hub's
    // own peers know it; the relay rule is built so that they are the only
    // ones whose answer depends on it (docs/planner.md, "Dead hubs").
    std::set<std::pair<std::string, std::string>> dead_peers;
    // XFRM peers whose authenticated handshake or keepalive came from
    // another address than their contact, (group, peer site) -> that source
    // (avpnd's key exchange, docs/xfrm-keying.md "Roaming"): a spoke that
    // moved to its backup uplink. The peer's SAs go there; it overrides the
    // member list's and the registry's contact in that group only.
    std::map<std::pair<std::string, std::string>, Endpoint> roamed;
    // Path i >= 1 of an active-active XFRM pair (docs/uplinks.md), keyed
    // (group, peer site, i): the SAs its own handshakes made, and where the
    // peer's authenticated messages on it come from, as xfrm_sessions and
    // roamed for path 0. A path's silence kills nothing: path 0 decides.
    using PathKey = std::tuple<std::string, std::string, uint8_t>;
    std::map<PathKey, XfrmSessionSas> xfrm_path_sessions;
    std::map<PathKey, Endpoint> path_roamed;
    // avpnd only: (group, other spoke) -> its shortcut. Acts only where the
    // group has shortcuts on, this site and the other are spokes and the
    // other has a contact; both ends keep theirs alike (docs/shortcuts.md).
    std::map<std::pair<std::string, std::string>, ShortcutState> shortcuts;
};

struct PlanOutcome {
    DesiredState state;
    Errors errors;
    bool ok() const { return errors.empty(); }
};

PlanOutcome plan(const Intent& intent, const PlanInputs& inputs = {});

}  // namespace avpn
