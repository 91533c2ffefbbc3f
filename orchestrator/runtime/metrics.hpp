// avpnd's Prometheus metrics, text exposition format 0.0.4: rendered from a
// snapshot of what avpnd holds in memory (metrics_server.hpp serves it), so
// a scrape costs a render and reads no kernel. Per peer the label `site` is
// the peer's site name and `group` its group; WireGuard counters are those
// of the last poll (avpn_wireguard_read_timestamp_seconds says when).
// A series whose value is not known (an uplink no probe answered, a
// registry that never answered) is left out, never faked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/runtime/events.hpp"
#include "orchestrator/runtime/peer_directory.hpp"
#include "orchestrator/runtime/status.hpp"
#include "plugins/firewall/nft_batch.hpp"

namespace avpn::runtime {

struct MetricsSnapshot {
    std::string site;
    int64_t now = 0;  // unix time the ages are computed at
    std::vector<PeerRow> peers;
    std::vector<DaemonFacts::Uplink> uplinks;
    uint64_t uplink_failovers = 0;  // switches forced by a failure since avpnd started
    // The last one's interruption: from the failure to the switch, seconds.
    std::optional<double> last_failover_seconds;
    ApplyStats applies;
    int64_t wireguard_read_at = 0;  // unix time, 0: never
    fw::Counters firewall;          // table inet avpn's, by counter name (rule-N, default-drop)
    int64_t firewall_read_at = 0;   // unix time, 0: never
    std::vector<DaemonFacts::Registry> registries;
};

std::string render_metrics(const MetricsSnapshot& snapshot);

// A label value as the format wants it: \\, \" and \n escaped.
std::string escape_label(std::string_view value);

}  // namespace avpn::runtime
