// Replacing a small file so that a crash leaves the old or the new contents,
// never half of one: a temp file beside it, fsync, rename, fsync of the
// directory. The state directory's records and avpnd's runtime records use it.
#pragma once

#include <string>

#include "common/result.hpp"

namespace avpn {

Status write_file_atomic(const std::string& path, const std::string& contents, unsigned mode);

}  // namespace avpn
