// What `avpnctl rekey` prints (docs/cli.md): the XFRM peers whose rotation
// avpnd started, as text or as JSON (schema avpn.rekey/1), or why none.
#pragma once

#include <vector>

#include "orchestrator/report/printed.hpp"
#include "orchestrator/runtime/xfrm_keying.hpp"

namespace avpn::report {

// A refusal (unknown group or peer, a group of another transport, nothing
// applied) is a bad argument for this site: exit 2, the error on stderr.
Printed rekey_output(const Result<std::vector<runtime::XfrmKeying::Rekeyed>>& r, bool json);

}  // namespace avpn::report
