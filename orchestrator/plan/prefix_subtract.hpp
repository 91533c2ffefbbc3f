// Prefix sets minus holes, for active-active's path tables (docs/uplinks.md
// "Active-active"): a multi-path peer's prefixes go on its path devices
// without the more specific prefixes of peers that run one path, so a path
// table never catches what the group's table routes to another peer, and a
// path device's source check expects no other peer's addresses.
#pragma once

#include <vector>

#include "common/ip.hpp"

namespace avpn::planner {

// `from` minus every prefix of `holes` that lies inside one of its prefixes,
// as the fewest prefixes: a prefix is halved until no hole overlaps a half,
// and a half that is a hole is dropped. `holes` must be sorted; a hole that
// holds a prefix of `from` takes nothing from it (the longer one wins in
// both tables).
std::vector<Prefix> subtract_prefixes(const std::vector<Prefix>& from, const std::vector<Prefix>& holes);

}  // namespace avpn::planner
