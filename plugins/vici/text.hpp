// A readable text form of a vici message, in swanctl.conf-like syntax:
//
//   avpn-x {
//     version = 2
//     local_addrs = [ 192.0.2.1 ]
//   }
//
// Used for golden files and diagnostics. Values that are not plain printable
// tokens are double-quoted with C-style escapes, so the dump is unambiguous.
// Secrets never reach it: avpn dumps load-conn messages, not load-shared.
#pragma once

#include <string>

#include "plugins/vici/message.hpp"

namespace avpn::vici {

std::string to_text(const Section& message);

}  // namespace avpn::vici
