// Errors of the netlink layer: what was attempted (the op), on which object,
// and why — the errno in words plus the kernel's own extack text, which is
// usually the only place that says which attribute it disliked.
#pragma once

#include <string>

#include "common/result.hpp"
#include "netlink/message.hpp"

namespace avpn::nl {

// "File exists (EEXIST)".
std::string errno_text(int err);

// why = errno text, then "; kernel: <extack>" when the kernel gave one;
// code = the errno (the reply's, or err).
Error kernel_error(std::string what, std::string where, const KernelReply& reply);
Error system_error(std::string what, std::string where, int err);

}  // namespace avpn::nl
