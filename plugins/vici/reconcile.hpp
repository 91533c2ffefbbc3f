// Makes charon's avpn-owned connections what avpn wants, the way
// `swanctl --load-all` does, but without touching what did not change:
//   - load-shared for every desired connection (PSK read at apply time),
//   - load-conn only for connections that are new or changed,
//   - unload-conn only for avpn- connections no longer desired,
//   - unload-shared only for avpn- keys no longer desired,
//   - initiate unchanged initiators that have no IKE_SA.
// Connections and keys without the avpn- prefix are never touched.
// "Changed" = the load-conn fingerprint differs from the one avpn recorded,
// or charon does not have it, or list-conns shows it differs (docs/vici.md).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/client.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/fingerprint_store.hpp"
#include "plugins/vici/journal.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

struct ReconcileOptions {
    std::string state_path;        // fingerprint file; "" keeps none (every apply reloads)
    int initiate_timeout_ms = -1;  // vici initiate timeout; -1 returns at once
    bool verify_listed = true;     // cross-check list-conns against the desired config
    bool dry_run = false;          // observe and plan only: the report says what would be done
    // An apply that can be undone: every op is recorded with its inverse
    // (journal.hpp), the previous definitions come from `previous`, and the
    // first failure ends the run, so nothing more needs undoing (an unload's
    // closed SAs above all). Without a journal, every connection is tried.
    Journal* journal = nullptr;
    const Applied* previous = nullptr;
};

struct ConnError {
    std::string name;
    Error error;
};

struct ReconcileReport {
    std::vector<std::string> loaded, unchanged, unloaded, initiated;
    std::vector<ConnError> errors;
    bool ok() const { return errors.empty(); }
};

// What charon holds, as far as the plan needs it.
struct Observed {
    std::set<std::string> conns;            // get-conns
    std::set<std::string> shared_ids;       // get-shared
    std::map<std::string, Section> listed;  // list-conns, avpn- connections only
};

// A desired connection with its load-conn message and fingerprint.
struct Desired {
    Connection conn;
    Section message;
    std::string fingerprint;
};

struct ReconcilePlan {
    std::vector<size_t> load;                // into desired: new or changed
    std::vector<size_t> keep;                // into desired: unchanged
    std::vector<std::string> unload;         // avpn- connections no longer desired
    std::vector<std::string> unload_shared;  // avpn- shared keys no longer desired
};

// Pure. `wanted` holds every desired name, also those whose mapping failed
// (they must not be unloaded for that). `last` is what avpn recorded.
ReconcilePlan plan_reconcile(const std::vector<Desired>& desired, const std::set<std::string>& wanted,
                             const Observed& observed, const Fingerprints& last, bool verify_listed);

// Whether charon's list-conns view of a connection agrees with `c` in every
// field list-conns reports (addresses, version, times, identities, children
// and their traffic selectors). Fields it does not report cannot disagree.
bool listed_matches(const Connection& c, const Section& listed);

// Reads what charon holds (get-conns, get-shared, list-conns).
Result<Observed> observe(Client& client, bool with_listed);

// The whole apply. Per-connection failures are in the report; an error
// result means charon could not be asked at all.
Result<ReconcileReport> reconcile(Client& client, const std::vector<Connection>& desired,
                                  const ReconcileOptions& options);

// Names of connections with an IKE_SA up or on its way up (list-sas); one
// already DELETING needs no terminate.
Result<std::set<std::string>> active_conns(Client& client);

// initiate of the connection's child under its own IKE config; timeout_ms −1
// returns at once (charon goes on in the background).
Status initiate(Client& client, const Connection& c, int timeout_ms);

// Removes exactly the named connections (only avpn- names; others are
// refused): unload-conn and unload-shared where charon has them, then
// terminate whatever IKE_SA of theirs is left (a responder's SAs outlive
// unload-conn). Used by `avpnctl down` and to undo a failed apply's new
// connections. `report.unloaded` lists what charon had.
Result<ReconcileReport> unload_owned(Client& client, const std::vector<std::string>& names);

}  // namespace avpn::vici
