// The charon half of apply, down and status: connect over vici, check what can
// be checked before the kernel is touched, reconcile the site's [[ipsec]]
// connections, wait briefly for the initiators to come up or fail, and keep
// failures in the state directory (they are events of one moment; docs/vici.md).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/client.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/journal.hpp"
#include "plugins/vici/reconcile.hpp"
#include "plugins/vici/retry.hpp"
#include "plugins/vici/status.hpp"

namespace avpn::runtime {

// Files in the state directory (next to applied.state), by name and by path.
inline constexpr const char* kFingerprintsFile = "vici.fingerprints";
inline constexpr const char* kFailuresFile = "ipsec.failures";
inline constexpr const char* kRetriesFile = "ipsec.retry";
inline constexpr const char* kAppliedConnsFile = "vici.applied";
std::string fingerprints_path(const std::string& state_dir);
std::string failures_path(const std::string& state_dir);
std::string retries_path(const std::string& state_dir);  // written by avpnd only
// The load-conn messages avpn last sent (vici/journal.hpp): what undoing a
// replace or an unload loads again. Also avpnd's, not its in-memory ipsec_:
// that is empty after a restart, while the file holds what charon was given.
std::string applied_conns_path(const std::string& state_dir);

// What the charon step did; rendered by render_apply.
struct IpsecOutcome {
    bool asked = false;  // charon was contacted
    std::string socket;
    vici::ReconcileReport report;
    std::vector<vici::TunnelStatus> tunnels;  // after the settle wait
    std::optional<Error> failure;             // charon unreachable, or it refused a connection
    // charon's ops of this apply with their inverses, kept until the apply is
    // recorded: a failure after charon undoes them too (undo_ipsec).
    vici::Journal journal;
    vici::Fingerprints fingerprints_before;  // restored with the undo
    vici::Applied applied_before;
    bool charon_undone = false;              // the journal was run backwards
    std::vector<std::string> undone;         // charon ops undone, newest first
    std::vector<std::string> not_undone;     // what the undo could not give back (closed SAs ...)
    std::vector<Error> undo_errors;          // inverses charon refused
    bool kernel_rolled_back = false;          // the kernel part was undone after `failure`
    std::vector<Error> kernel_undo_errors;
    std::vector<std::string> warnings;
};

// Bounded waits on charon (docs/vici.md, "Bounded waits"). Besides every
// call's own timeout (10 s): the version round trip of connect_charon, which
// finds a charon that accepts but does not answer before anything changes;
// the budget of an apply's charon part (the settle wait comes on top), of its
// undo (its own reserve, so a charon that stopped answering midway still
// gets asked to take back what it took), and of a down's unloads.
inline constexpr std::chrono::seconds kCharonProbe{2};
inline constexpr std::chrono::seconds kCharonApplyBudget{30};
inline constexpr std::chrono::seconds kCharonUndoBudget{10};
inline constexpr std::chrono::seconds kCharonDownBudget{30};

// Connects to charon and asks its version within kCharonProbe; the error
// says which socket and why ("charon did not answer version within 2 s").
Result<std::unique_ptr<vici::Client>> connect_charon(const std::string& socket);

// Everything about the connections that can fail without charon: the
// load-conn mapping and the PSK files (mode, emptiness). Named per connection.
Status preflight_ipsec(const std::vector<vici::Connection>& desired);

// Reconciles charon with `desired` (an empty list unloads avpn's
// connections), journaled. On the first failure the run stops, what it did is
// undone (undo_ipsec) and `failure` names the connection and charon's reason.
// On success the definitions are recorded for the next apply's undo.
// Then waits up to settle_seconds until every initiator it loaded or
// initiated is up or has failed, and records failures. charon gets
// kCharonApplyBudget + settle_seconds in all, and an undo kCharonUndoBudget.
IpsecOutcome apply_ipsec(vici::Client& charon, const std::vector<vici::Connection>& desired,
                         const std::string& state_dir, int settle_seconds, bool dry_run);

// Undoes charon's part of an apply after a failure (of charon, or anything
// later): the journal newest first, then the fingerprint and definition
// files as they were. A failed inverse removes the fingerprints, so the next
// apply reloads rather than trusting them.
void undo_ipsec(vici::Client& charon, IpsecOutcome& outcome, const std::string& state_dir);

// Unloads the named connections (avpn's own, from the state directory),
// within kCharonDownBudget.
IpsecOutcome down_ipsec(vici::Client& charon, const std::vector<std::string>& names);

// Status of the named connections; listens for listen_seconds first so a
// failure happening now is seen, and merges the recorded failures.
Result<std::vector<vici::TunnelStatus>> ipsec_status(vici::Client& charon, const std::vector<std::string>& names,
                                                     const std::string& state_dir, int listen_seconds);

// One round of avpnd's re-initiation (retry.hpp): reads each initiator's IKE
// state, initiates those `schedule` says are due (timeout −1), waits up to
// settle_seconds for them to come up or fail while listening to charon's
// log, records failures, and writes the schedule to the state directory for
// `avpnctl status`. Returns the names initiated.
Result<std::vector<std::string>> retry_ipsec(vici::Client& charon, const std::vector<vici::Connection>& desired,
                                             const std::string& state_dir, vici::RetrySchedule& schedule,
                                             int settle_seconds);

}  // namespace avpn::runtime
