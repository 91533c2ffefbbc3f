#include "orchestrator/runtime/drift.hpp"

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"

namespace avpn::runtime {

bool concerns_avpn(const nl::KernelEvent& e, const WatchScope& s) {
    using nl::EventKind;
    if (e.kind == EventKind::overrun || e.kind == EventKind::xfrm_flush) return true;  // anything may have gone
    if (e.sender != 0 && s.own_ports.count(e.sender)) return false;
    switch (e.kind) {
        case EventKind::link:
        case EventKind::address:
            return s.owned.links.count(e.ifname) > 0 || s.uplinks.count(e.ifname) > 0;
        case EventKind::route:
            return e.protocol == own::kRouteProtocol && s.owned.tables.count(e.table) > 0;
        case EventKind::rule:
            return e.protocol == own::kRouteProtocol && own::owns_rule_priority(e.priority);
        case EventKind::xfrm_policy:
        case EventKind::xfrm_sa:
            // AutoVPN groups' if_ids only: interop tunnels' SAs are charon's,
            // and charon rekeys them all the time.
            return e.if_id >= own::kIfIdFirst && e.if_id < planner::kInteropIfIdFirst;
        default: return false;
    }
}

}  // namespace avpn::runtime
