// An IKEv2 connection as avpn asks charon for it: the planner fills it from an
// [[ipsec]] tunnel, the vici plugin turns it into load-shared + load-conn and
// compares it with what charon reports. Values are in charon's own terms.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace avpn::vici {

// Every connection avpn loads carries this name prefix; connections without it
// belong to somebody else and are never unloaded.
inline constexpr std::string_view kConnPrefix = "avpn-";

struct ChildSa {
    std::string name;                     // "<conn>-child"
    std::vector<std::string> local_ts;    // traffic selectors (CIDR)
    std::vector<std::string> remote_ts;
    std::vector<std::string> esp_proposals;
    std::string start_action;  // "start" (initiator) | "trap" | "none" (responder)
    std::string dpd_action;    // "clear" | "trap" (hold) | "start" (restart)
    std::string close_action;  // "none" | "trap" | "start"
    uint32_t rekey_time = 3600;  // seconds; 0: never initiate a rekey
    uint32_t life_time = 0;      // seconds; 0: charon default (rekey_time * 1.1)
    auto operator<=>(const ChildSa&) const = default;
};

struct Connection {
    std::string name;  // always starts with kConnPrefix
    std::vector<std::string> local_addrs;
    std::vector<std::string> remote_addrs;
    std::string local_id;
    std::string remote_id;
    std::string psk_file;  // resolved at apply time; the secret is never in a plan
    std::vector<std::string> ike_proposals;
    uint32_t version = 2;
    uint32_t rekey_time = 28800;  // IKE lifetime; 0: never initiate a rekey
    uint32_t over_time = 0;       // hard limit beyond rekey_time (0: charon default)
    uint32_t reauth_time = 0;     // 0: no reauthentication
    uint32_t dpd_delay = 0;       // seconds; 0: no DPD
    uint32_t dpd_timeout = 0;     // IKEv1 only in charon; kept to report it honestly
    uint32_t if_id_in = 0;        // route-based: XFRM interface id; 0: policy-based
    uint32_t if_id_out = 0;
    std::string local_port_bind;  // the WAN interface the tunnel is bound to (informative)
    // Where local_addrs (and a default local_id) come from (informative, for
    // the plan): "local_address"; "uplink <if>" (its address when planned);
    // "uplink <if> at apply time" (no address known when planned: %any and
    // no local_id here, but apply plans again with the uplink's live address).
    std::string local_addrs_from;
    ChildSa child;
    auto operator<=>(const Connection&) const = default;
};

}  // namespace avpn::vici
