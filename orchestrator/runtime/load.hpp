// Loading a site for any front end: read, validate and (if asked) plan, and
// keep every diagnostic as data. avpnctl prints them, avpnd logs them or
// returns them over the control socket.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"

namespace avpn::runtime {

struct LoadedSite {
    std::string path;                   // as normalised for messages
    std::optional<Intent> intent;       // set when there are no errors
    std::optional<DesiredState> state;  // set when planning was asked for and succeeded
    Errors errors;                      // the file's, then the planner's
    Errors warnings;
    bool ok() const { return errors.empty() && intent.has_value(); }
};

// With want_plan, also plans (without live inputs), so `check` reports
// everything the planner would refuse too.
LoadedSite load_site(const std::string& path, bool want_plan);

// "file:line:col: error: what: why", the one format of every front end.
std::string diagnostic_line(const Error& e, std::string_view severity);

}  // namespace avpn::runtime
