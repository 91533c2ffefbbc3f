// How avpnctl reports a runtime failure: one line on stderr, and the exit
// code that says what kind of failure it was (docs/cli.md).
#pragma once

#include "common/result.hpp"

namespace avpn::cli {

// Prints "avpnctl COMMAND: error" and returns its exit code.
int report_failure(const char* command, const Error& e);

}  // namespace avpn::cli
