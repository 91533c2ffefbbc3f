// One value that says "these sites plan the same group": a hash of the
// group-wide settings and of the membership routing depends on, computed the
// same way at every site. Two sites with equal member lists and site files
// that agree with their own entries compute the same fingerprint, so a
// registry (or an operator comparing `avpnctl plan` output) can spot a site
// that plans from a stale or different list. docs/plan-json.md gives the
// canonical form.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/intent.hpp"

namespace avpn::planner {

// The canonical text that is hashed: one line per setting and per member
// (members sorted by name, this site as its site file defines it with
// `self_exports` = site_exports()). No contacts: they are live.
std::string group_canonical_form(const Intent& intent, const Group& group, const std::vector<Prefix>& self_exports);

// The first 32 hex digits (128 bits) of SHA-256 of group_canonical_form().
std::string group_fingerprint(const Intent& intent, const Group& group, const std::vector<Prefix>& self_exports);

}  // namespace avpn::planner
