// What `avpnctl status` shows, gathered for either front end: the state
// directory (what the last apply loaded), charon's view of the interop
// tunnels (list-sas, plus the failures recorded there), and each WireGuard
// interface avpn owns asked through its own backend (a UAPI socket if it has
// one, else the kernel; nothing is started). Read-only towards the kernel
// and charon; takes no lock. avpnd adds its own facts (DaemonFacts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/reconcile/state_dir.hpp"
#include "plugins/firewall/nft_batch.hpp"
#include "orchestrator/runtime/events.hpp"
#include "orchestrator/runtime/peer_directory.hpp"
#include "plugins/vici/status.hpp"
#include "plugins/wireguard/backend.hpp"
#include "plugins/wireguard/daemon_record.hpp"

namespace avpn::runtime {

struct WgGroupStatus {
    std::string ifname, backend;
    wg::WgDeviceStatus status;
    std::optional<wg::DaemonRecord> daemon;  // userspace: its wireguard-go
};

// Table inet avpn's named counters (docs/firewall.md): one per
// [[firewall]] rule ("rule-N", N its position in the file), in rule order,
// then the default drop's ("default-drop").
struct FirewallStatus {
    bool present = false;
    std::vector<std::pair<std::string, fw::CounterValue>> counters;
    std::optional<Error> error;  // libnftables could not list it
};

struct SiteStatus {
    std::string state_dir, vici_socket;
    AppliedRecord last;
    bool has_ipsec = false;              // connections are recorded
    std::optional<Error> ipsec_error;    // charon could not be asked
    std::vector<vici::TunnelStatus> tunnels;
    std::vector<WgGroupStatus> wireguard;
    FirewallStatus firewall;
    // Every member of the site's groups by name (peer_directory.hpp); empty
    // with peers_error set when the applied config cannot be planned again.
    std::vector<PeerRow> peers;
    std::optional<Error> peers_error;
};

// The counters of the namespace's table inet avpn (none when it is absent).
FirewallStatus firewall_status();

// --listen: watch charon's log for listen_seconds first (failures it hears
// are recorded in the state directory).
Result<SiteStatus> gather_status(const std::string& state_dir, const std::string& vici_socket, int listen_seconds);

// The one-shot's peer rows: the config the last apply recorded, loaded and
// planned again without live inputs (as the one-shot apply planned it),
// joined with the WireGuard devices `wireguard` read.
Result<std::vector<PeerRow>> planned_peer_rows(const std::string& config_path,
                                               const std::vector<WgGroupStatus>& wireguard);

// Bytes and packets through an XFRM peer's SAs, as the kernel counts them.
struct SaCounters {
    uint64_t in_bytes = 0, in_packets = 0, out_bytes = 0, out_packets = 0;
    bool operator==(const SaCounters&) const = default;
};

// What only a running avpnd knows; status through the control socket shows it.
struct DaemonFacts {
    int64_t pid = 0;
    std::string config;       // the file avpnd applies (its FILE, or the last `avpnctl apply` through it)
    bool idle = false;        // after `avpnctl down`: nothing applied until the next apply or reload
    struct Converge {
        int64_t at = 0;       // unix time
        bool ok = false;
        std::string line;     // as logged: "full apply (start): 9 ops (...) in 20.3 ms", or the failure
    };
    std::optional<Converge> last_converge;
    struct Pending {
        int64_t deadline = 0;  // unix time
        std::string config;    // applied on trial
        std::string previous;  // rolled back to ("" when nothing was applied before)
    };
    std::optional<Pending> confirm;
    struct Rollback {
        int64_t at = 0;
        std::string config, previous;
        bool ok = false;
        std::string line;
    };
    std::optional<Rollback> last_rollback;
    // The XFRM key exchange, per peer (xfrm_keying.hpp), sorted by group and peer.
    struct XfrmPeer {
        std::string group, peer;
        bool up = false;
        uint32_t epoch = 0;                     // sessions established since avpnd started
        std::optional<int64_t> handshake_age;   // seconds since the last one
        std::optional<int64_t> next_rekey_in;   // seconds
        uint32_t initiations_unanswered = 0;
        std::string problem;                    // why it is not up, when known
        // The SAs it holds now (the current session's pair, an old inbound
        // one lingering); nullopt when the kernel could not be read.
        std::optional<SaCounters> sa;
    };
    std::vector<XfrmPeer> xfrm;
    // The site's uplinks in order of preference: the address the last
    // converge read (none: empty), its health (docs/uplinks.md) and whether
    // the tunnels use it.
    struct Uplink {
        std::string name;
        std::optional<IpAddr> address;
        bool healthy = false;
        std::string why;  // why it is not healthy
        bool active = false;
        // From the probes' last 10 rounds (uplink_prober.hpp); probes = 0:
        // none sent (no targets, or no socket: probe_problem says why).
        size_t probes = 0, lost = 0;
        std::optional<double> latency_ms;  // mean RTT of the answered rounds
        std::string probe_problem;
    };
    std::vector<Uplink> uplinks;
    // The registry clients (registry_clients.hpp), in the site file's order.
    struct Registry {
        std::string group, endpoint;
        bool reachable = false;
        std::optional<int64_t> last_answer_age_ms;  // none: never answered
        std::string observed;                       // this site's contact as it saw it ("" unknown)
        uint64_t handshakes = 0, rejected = 0;
        std::string problem;                        // why nothing can be sent (a shared port)
    };
    std::vector<Registry> registries;
    // Per group with registries and uplink: "friendly", "unfriendly" or
    // "unknown"; `active`: the uplink the tunnels use now, the others with
    // their last verdict (registry_clients.hpp); `filtering`: "permissive",
    // "strict" or "unknown", by the registries' filtering test.
    struct Nat {
        std::string group, uplink, type;
        bool active = false;
        std::string filtering = "unknown";
    };
    std::vector<Nat> nat;
    std::vector<SiteEvent> events;  // oldest first (events.hpp)
    // Handshake messages the key exchange dropped (junk, replays, strangers'
    // keys) since avpnd started, and the latest one's reason.
    uint64_t xfrm_rejected = 0;
    std::string xfrm_last_rejected;
};

}  // namespace avpn::runtime
