// How avpnctl reports: what a command printed (report/printed.hpp: a
// one-shot's result, or avpnd's answer) written out, and its exit code.
#pragma once

#include "common/result.hpp"
#include "orchestrator/report/printed.hpp"

namespace avpn::cli {

// Writes p.out to stdout and p.err to stderr; returns p.exit.
int print(const report::Printed& p);

// Prints "avpnctl COMMAND: error" and returns its exit code (3).
int report_failure(const char* command, const Error& e);
// The same for a failed StateDir::lock(): 4 when another writer holds it.
int report_lock_failure(const char* command, const Error& lock_failure);
// The same for a failed StateDir::lock(): 4 when another writer holds it.
int report_lock_failure(const char* command, const Error& lock_failure);

}  // namespace avpn::cli
