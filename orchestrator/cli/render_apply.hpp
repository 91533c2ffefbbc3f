// Output of apply and down: per-kind counts and the ops, for people and
// (--json, schema "avpn.apply/1") for machines. Tests assert "a no-op apply
// writes nothing" from this JSON.
#pragma once

#include <string>

#include "orchestrator/reconcile/apply.hpp"

namespace avpn::cli {

std::string render_apply_text(const ApplyReport&, bool dry_run);
std::string render_apply_json(const ApplyReport&, bool dry_run);

}  // namespace avpn::cli
