// Renders a DesiredState for people (plan, apply --dry-run) and machines
// (--json, schema "avpn.plan/1" in docs/plan-json.md). Never prints secrets:
// keys appear as the file they come from.
#pragma once

#include <string>

#include "orchestrator/plan/desired_state.hpp"

namespace avpn::cli {

std::string render_plan_text(const DesiredState&);
std::string render_plan_json(const DesiredState&);

}  // namespace avpn::cli
