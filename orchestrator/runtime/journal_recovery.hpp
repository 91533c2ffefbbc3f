// What a killed apply, down or avpnd left in the write-ahead journal
// (reconcile/apply_journal.hpp), taken up by the next one before it plans
// its scope: the links it created are marked as avpn's (so the scan finds
// them and this run keeps or removes them), and the charon connections it
// was about to load join the record's, so this run unloads what it does not
// want. The journal itself stays until this run's record is saved (or down
// is done): a second kill loses nothing.
#pragma once

#include <functional>
#include <string>

#include "orchestrator/reconcile/apply_journal.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::runtime {

Status recover_unfinished(const ApplyJournal& journal, KernelPort& port, AppliedRecord& last);

// The hook a NetlinkPort calls before it creates a link
// (NetlinkPortOptions::before_create_link): appends to the state
// directory's journal.
std::function<Status(const JournaledLink&)> journal_links_in(const std::string& state_dir);

}  // namespace avpn::runtime
