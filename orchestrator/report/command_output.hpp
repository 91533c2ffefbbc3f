// The printed result of apply, down and reload, their failures and a
// configuration's diagnostics, the same for the one-shot and through avpnd.
#pragma once

#include <string_view>

#include "orchestrator/report/printed.hpp"
#include "orchestrator/runtime/down.hpp"
#include "orchestrator/runtime/load.hpp"
#include "orchestrator/runtime/site.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::report {

// Appends "avpnctl COMMAND: error" and sets the exit code its kind calls
// for (4 when a lock is held, else 3).
void add_failure(Printed& p, std::string_view command, const Error& e);
Printed failure(std::string_view command, const Error& e);
// A failed StateDir::lock(): exit 4 when another writer holds the lock, by
// its errno (lock_held_elsewhere), else 3.
Printed lock_failure(std::string_view command, const Error& e);

// Every error and warning of a loaded file (with json, as a JSON document on
// stdout, or stderr when it is only warnings), then the count; exit 1 when
// there are errors.
Printed diagnostics(const runtime::LoadedSite& site, bool json);

// The planner's errors, one per line; exit 1.
Printed plan_errors(const Errors& errors);

// `command` names who speaks in failures and warnings ("avpnctl apply: ...").
Printed apply_output(std::string_view command, const runtime::SiteApplyResult& r, bool json, bool dry_run);
Printed down_output(const runtime::DownReport& d, bool json);

// A converge avpnd ran for `command` (apply, reload): a full one prints as
// apply does; an incremental change prints its ops (no charon part).
Printed converge_output(std::string_view command, const runtime::ConvergeReport& c, bool json);

// Appends `more` (its exit code wins when it is not kOk).
void append(Printed& p, const Printed& more);

}  // namespace avpn::report
