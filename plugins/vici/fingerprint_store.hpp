// What avpn last loaded into charon, per connection: the fingerprint (SHA-256
// of the load-conn message). Kept in a small text file the caller names,
// written atomically (temp file, fsync, rename), one "<name> <hex>" per line.
// The file is an optimisation, never the truth about charon: a missing or
// damaged file only makes the next apply reload (charon keeps an identical
// configuration's SAs), see docs/vici.md.
#pragma once

#include <map>
#include <string>

#include "common/result.hpp"

namespace avpn::vici {

using Fingerprints = std::map<std::string, std::string>;  // name -> hex

// Missing file: empty. Malformed lines are skipped (and counted in `skipped`).
Fingerprints load_fingerprints(const std::string& path, size_t* skipped = nullptr);

Status save_fingerprints(const std::string& path, const Fingerprints& fps);

// Mode 0600, temp file + fsync + rename: a crash leaves the old or the new text.
Status write_text_atomic(const std::string& path, const std::string& text);

}  // namespace avpn::vici
