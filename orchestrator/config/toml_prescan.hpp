// A scan that runs before toml++ and stops inputs toml++ 3.3 cannot handle
// safely. toml++ 3.3's is_non_ascii_horizontal_whitespace() reaches
// __builtin_unreachable() for many non-ASCII code points (U+00A1..U+0499
// among them; upstream issues #190/#295, fixed after 3.3), i.e. undefined
// behaviour on a stray "é" in a config file. Its parser asks that question
// only outside strings and comments (where TOML 1.0 allows ASCII only, so
// such input is invalid anyway) and after a line-ending backslash in a
// multi-line basic string. This scan reports those places as syntax errors
// instead of handing them to toml++.
#pragma once

#include <optional>
#include <string_view>

#include "orchestrator/config/doc.hpp"

namespace avpn::config {

std::optional<SyntaxError> find_unsafe_non_ascii(std::string_view toml);

}  // namespace avpn::config
