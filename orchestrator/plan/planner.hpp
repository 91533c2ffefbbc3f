// The planner: a pure function from a site's Intent (plus what the registry
// and the interfaces tell the daemon) to the complete DesiredState of that
// site. No I/O, no clock, no randomness: the same input gives a byte-identical
// output, every vector sorted and free of duplicates. docs/planner.md
// describes the rules; this header is the whole interface.
#pragma once

#include <map>
#include <string>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"

namespace avpn {

struct PlanInputs {
    // Live contacts by site name (from the registry); they override the
    // static contacts of the member lists.
    std::map<std::string, Endpoint> contacts;
    // WAN interface name -> its primary address (read by apply / the daemon).
    std::map<std::string, IpAddr> uplink_addresses;
};

struct PlanOutcome {
    DesiredState state;
    Errors errors;
    bool ok() const { return errors.empty(); }
};

PlanOutcome plan(const Intent& intent, const PlanInputs& inputs = {});

}  // namespace avpn
