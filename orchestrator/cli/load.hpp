// Shared by every command that reads a site file: load, validate, plan, and
// print diagnostics the same way everywhere.
#pragma once

#include <optional>
#include <string>

#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/runtime/load.hpp"

namespace avpn::cli {

struct Loaded {
    std::optional<Intent> intent;
    std::optional<DesiredState> state;  // set when planning was asked for and succeeded
    int exit_code = 0;                  // kOk, or kInvalid after printing why
    Errors needs_daemon;                // settings only avpnd acts on (runtime/load.hpp)
};

// Loads FILE; prints every error and warning to stderr (or, with json, as a
// JSON document on stdout). `purpose` says what else (runtime/load.hpp), so `check` reports
// everything the planner would refuse too.
Loaded load_site_file(const std::string& path, runtime::LoadFor purpose, bool json);

}  // namespace avpn::cli
