// IPsec interop ([[ipsec]] tunnels to third-party gateways): one charon
// connection each (vici::Connection), and for route-based tunnels (type
// route, partner aws or azure) an xfrm interface with the connection's if_id
// and routes to the remote networks over it.
//
// Where those routes live: in the table of the AutoVPN group whose rules come
// first (lowest rule priority), so they are looked up before a full tunnel's
// catch-all rule and win by longest prefix; a site without AutoVPN groups
// uses table own::kTableBase + 100 with one rule at the start of avpn's band.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::planner {

inline constexpr uint32_t kInteropTable = own::kTableBase + 100;
inline constexpr uint32_t kInteropRulePriority = own::kRulePriorityFirst;
// Route-based tunnels take if_ids from the upper half of avpn's range; the
// lower half is kIfIdFirst + group index.
inline constexpr uint32_t kInteropIfIdFirst = own::kIfIdFirst + 128;
inline constexpr uint32_t kInteropIfIdLast = own::kPathIfIdFirst - 1;
// An XFRM group's own interface: a group's or one of its paths'.
inline constexpr bool group_if_id(uint32_t id) {
    return (id >= own::kIfIdFirst && id < kInteropIfIdFirst) || (id >= own::kPathIfIdFirst && id <= own::kIfIdLast);
}

struct InteropRouting {
    uint32_t table = kInteropTable;
    bool own_rule = true;                 // false: the table already has a group's rule
    std::vector<uint32_t> group_if_ids;   // if_ids taken by AutoVPN groups
};

// Proposals used when a tunnel names none (docs/planner.md says why).
struct Proposals {
    std::vector<std::string> ike;
    std::vector<std::string> esp;
};
Proposals partner_proposals(IpsecPartner partner);

void plan_ipsec(const Intent& intent, const PlanInputs& inputs, const InteropRouting& routing,
                DesiredState& state, Errors& errors);

}  // namespace avpn::planner
