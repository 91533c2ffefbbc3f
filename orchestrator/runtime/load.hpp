// Loading a site for any front end: read, validate and (if asked) plan, and
// keep every diagnostic as data. avpnctl prints them, avpnd logs them or
// returns them over the control socket.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "orchestrator/config/load.hpp"

#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"

namespace avpn::runtime {

struct LoadedSite {
    std::string path;                   // as normalised for messages
    std::optional<Intent> intent;       // set when there are no errors
    std::optional<DesiredState> state;  // set when planning was asked for and succeeded
    Errors errors;                      // the file's, then the planner's
    Errors warnings;
    // Settings only avpnd acts on (an XFRM group), kept apart for an apply:
    // avpnd and a dry run go ahead, the one-shot apply refuses them by name.
    Errors needs_daemon;
    bool ok() const { return errors.empty() && intent.has_value(); }
};

// What the site is loaded for. Settings the language accepts but this
// version does not act on yet (config/diag.hpp) are errors for an apply
// (one-shot or avpnd: nothing is half-applied) and warnings otherwise, so
// `check` and `plan` still show what the site describes.
enum class LoadFor {
    check,   // `check` and `plan`: also plans (without live inputs), so the planner's refusals show too
    member,  // `member`: the file alone
    apply,   // one-shot apply and avpnd; they plan with live inputs themselves
};
// Settings only avpnd acts on (config/diag.hpp, needs_daemon) are warnings
// ending "(apply needs avpnd)" for check, nothing for member, and for an
// apply LoadedSite::needs_daemon: avpnd acts on them, the one-shot refuses.

LoadedSite load_site(const std::string& path, LoadFor purpose);

// The same for a LoadResult the caller loaded itself (from a FileSource of
// its own: runtime/config_snapshot.hpp).
LoadedSite loaded_site(const std::string& path, LoadResult loaded, LoadFor purpose);

}  // namespace avpn::runtime
