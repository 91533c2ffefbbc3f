// Tunnel status from charon: list-sas (streamed) for the state of each avpn
// connection, and the ike-updown / child-updown / log events for the last
// failure in words. A one-shot caller (avpnctl status) gets states and
// counters; a long-lived one (avpnd) also keeps a FailureTracker fed with
// events, so "why is it down" survives the moment it happened.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/result.hpp"
#include "plugins/vici/client.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

// Plain values only, so the CLI can render it as text or JSON (to_json below).
struct TunnelStatus {
    std::string name;                  // avpn connection name
    bool loaded = true;                // charon has the connection (false: charon restarted; apply again)
    std::string ike_state = "DOWN";    // charon's IKE_SA state (ESTABLISHED, CONNECTING, ...) or DOWN
    std::string child_state = "DOWN";  // CHILD_SA state (INSTALLED, REKEYING, ...) or DOWN
    bool up = false;                   // IKE ESTABLISHED and CHILD INSTALLED
    bool initiator = false;
    uint64_t ike_id = 0;               // charon's unique IKE_SA id (changes on re-establishment)
    int64_t established_seconds = -1;  // -1: not established
    int64_t established_since = 0;    // unix time; 0: not established
    std::string local_host, remote_host;
    uint16_t local_port = 0, remote_port = 0;
    std::string local_id, remote_id;
    bool nat_local = false;   // this end is behind a NAT (NAT-T in use)
    bool nat_remote = false;  // the peer is behind a NAT (or charon fakes it for UDP encapsulation)
    bool udp_encap = false;   // ESP in UDP
    std::string ike_proposal, esp_proposal;
    uint64_t child_id = 0;  // charon's unique CHILD_SA id (changes on rekey)
    std::string spi_in, spi_out;
    uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
    int64_t ike_rekey_in = -1;    // seconds until the IKE_SA rekeys; -1: not scheduled/unknown
    int64_t child_rekey_in = -1;  // seconds until the CHILD_SA rekeys
    std::vector<std::string> local_ts, remote_ts;
    std::string last_failure;         // "authentication failed", "no proposal chosen", "peer not responding", ...
    std::string last_failure_detail;  // charon's own words
    int64_t last_failure_at = 0;      // unix time; 0: none seen
    // avpnd's re-initiation of an initiator that is not up (retry.hpp), from
    // the state directory; 0 when nothing is scheduled (up, a responder, or
    // no avpnd running).
    int retry_attempts = 0;
    int64_t next_attempt_at = 0;  // unix time
};

// charon log text -> a failure in words; "" when the line is no failure.
std::string classify_failure(std::string_view log_message);

struct Failure {
    std::string reason, detail;
    int64_t at = 0;
};

// Remembers each connection's last failure from log/control-log events.
class FailureTracker {
public:
    void observe(const Event& e, int64_t now);
    const Failure* last(std::string_view conn) const;
    // Keeps `f` unless a newer failure of `conn` is known (merging a record).
    void remember(const std::string& conn, Failure f);
    void forget(std::string_view conn);
    const std::map<std::string, Failure, std::less<>>& all() const { return failures_; }

private:
    std::map<std::string, Failure, std::less<>> failures_;
};

// Failures outlive one command only if somebody writes them down: apply and
// status keep them in a small text file in the state directory, one
// "<name>\t<unix time>\t<reason>\t<charon's words>" per line, written
// atomically. A missing file is empty; malformed lines are skipped.
FailureTracker load_failures(const std::string& path);
Status save_failures(const std::string& path, const FailureTracker& failures);

// Subscribes to what FailureTracker and status need (log, ike-updown, child-updown).
Status subscribe_status_events(Client& client);

// Fills one TunnelStatus from a list-sa / ike-updown body for one IKE_SA.
TunnelStatus parse_ike_sa(std::string_view name, const Section& ike, int64_t now);

// Status of every named connection (all avpn- connections with an SA when
// `names` is empty). Connections without an SA are reported DOWN.
Result<std::vector<TunnelStatus>> collect_status(Client& client, const std::vector<std::string>& names,
                                                 const FailureTracker* failures, int64_t now);

void to_json(JsonWriter& w, const TunnelStatus& s);

}  // namespace avpn::vici
