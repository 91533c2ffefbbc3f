// `avpnctl status` for people and (--json, schema avpn.status/1) machines.
// Through avpnd the daemon's own facts follow (text: an "avpnd" paragraph at
// the end; JSON: "avpnd", null for the one-shot).
#pragma once

#include "orchestrator/report/printed.hpp"
#include "orchestrator/runtime/status.hpp"

namespace avpn::report {

// Exit 0, or 3 when charon could not be asked.
Printed status_output(const runtime::SiteStatus& s, const runtime::DaemonFacts* daemon, bool json);

// "2026-11-23T20:20:01Z"
std::string clock_time(int64_t unix_time);

}  // namespace avpn::report
