// charon's part of an apply under one journal: every vici op the reconciler
// performs is recorded with its inverse, so a failure later in the apply (in
// charon itself, or anything after it) can put charon back as it was, newest
// op first, before the kernel's journal is rolled back.
//
// The inverse of replacing or unloading a connection is loading its previous
// definition. That comes from the state directory (`Applied`, below): the
// load-conn messages exactly as avpn last sent them, the PSK file path and the
// key's owners. Not re-planned from the previous config: a plan depends on
// uplink addresses and planner version at that moment, so re-planning is not
// exact; what was sent is. No secret is kept: the key is read from its file
// again when it must be reloaded (docs/vici.md, "Undoing charon's part").
//
// Not invertible, and said so in UndoReport::not_undone: an SA that was closed
// (terminate, or the unload/replace of an initiator) cannot come back as it
// was; the previous definition's start action brings an initiator up on a new
// SA, a responder waits for its peer. A key whose file changed since it was
// loaded comes back with the file's current contents.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/client.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

// One connection as avpn last loaded it.
struct AppliedConn {
    Section load_conn;  // the whole load-conn message, { <name> { ... } }
    std::string psk_file;
    std::vector<std::string> owners;  // of the key, id = the connection name
    bool operator==(const AppliedConn&) const = default;
};
using Applied = std::map<std::string, AppliedConn>;

Result<AppliedConn> applied_conn(const Connection& c);

// One vici message in a file (the codec checks it on the way back). Missing
// or damaged: empty — then a replaced connection cannot be restored, and the
// undo says so.
Applied load_applied(const std::string& path);
Status save_applied(const std::string& path, const Applied& applied);

struct Inverse {
    enum class Kind { none, load_conn, unload_conn, load_shared, unload_shared, terminate };
    Kind kind = Kind::none;
    std::string name;      // connection or key id
    AppliedConn previous;  // load_conn, load_shared
};

struct JournalEntry {
    std::string op;       // what was done, e.g. "load-conn avpn-t1 (replaced)"
    Inverse inverse;
    std::string caveat;   // what the inverse cannot give back ("" when exact)
};

struct UndoReport {
    std::vector<std::string> undone;      // ops undone, newest first
    std::vector<std::string> not_undone;  // ops without an inverse, and caveats
    std::vector<Error> errors;            // inverses charon refused
};

class Journal {
public:
    void record(std::string op, Inverse inverse, std::string caveat = {});
    const std::vector<JournalEntry>& entries() const { return entries_; }
    bool empty() const { return entries_.empty(); }

    // Runs the inverses newest first, each once; every failure is reported and
    // the rest still run (a partial undo is better than none). Empties the journal.
    UndoReport undo(Client& client);

private:
    std::vector<JournalEntry> entries_;
};

}  // namespace avpn::vici
