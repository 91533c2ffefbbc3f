#include "orchestrator/runtime/drift.hpp"

#include <cstdio>

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"
#include "orchestrator/plan/routing.hpp"

namespace avpn::runtime {

bool concerns_uplinks(const nl::KernelEvent& e, const WatchScope& s) {
    using nl::EventKind;
    if (e.sender != 0 && s.own_rtnl_ports.count(e.sender)) return false;
    switch (e.kind) {
        case EventKind::address:
            // avpn neither owns IPv6 link-local addresses nor plans from
            // them (an uplink's is no contact address).
            if (e.link_local) return false;
            [[fallthrough]];
        case EventKind::link: return s.uplinks.count(e.ifname) > 0;
        case EventKind::route:
            // An uplink's default route in main: what the steering copies.
            // An operator's other routes through the uplink are none of
            // avpn's business.
            return e.table == planner::kMainTable && e.dst_len == 0 && s.uplink_ifindexes.count(e.ifindex) > 0;
        default: return false;
    }
}

bool concerns_avpn(const nl::KernelEvent& e, const WatchScope& s) {
    using nl::EventKind;
    if (e.kind == EventKind::overrun || e.kind == EventKind::xfrm_flush) return true;  // anything may have gone
    const bool xfrm = e.kind == EventKind::xfrm_policy || e.kind == EventKind::xfrm_sa;
    if (e.sender != 0 && (xfrm ? s.own_xfrm_ports : s.own_rtnl_ports).count(e.sender)) return false;
    if (concerns_uplinks(e, s)) return true;
    switch (e.kind) {
        case EventKind::address:
            if (e.link_local) return false;  // as for uplinks: never avpn's
            [[fallthrough]];
        case EventKind::link: return s.owned.links.count(e.ifname) > 0;
        case EventKind::route: return e.protocol == own::kRouteProtocol && s.owned.tables.count(e.table) > 0;
        case EventKind::rule:
            return e.protocol == own::kRouteProtocol && own::owns_rule_priority(e.priority);
        case EventKind::xfrm_policy:
        case EventKind::xfrm_sa:
            // AutoVPN groups' (and their paths') if_ids only: interop
            // tunnels' SAs are charon's, and charon rekeys them all the time.
            return planner::group_if_id(e.if_id);
        default: return false;
    }
}

std::string describe(const nl::KernelEvent& e) {
    using nl::EventKind;
    std::string s;
    switch (e.kind) {
        case EventKind::overrun: return "notifications were lost (ENOBUFS): anything may have changed";
        case EventKind::xfrm_flush: return "XFRM states or policies flushed";
        case EventKind::link: s = "link " + e.ifname; break;
        case EventKind::address:
            s = "address on " + (e.ifname.empty() ? "#" + std::to_string(e.ifindex) : e.ifname);
            break;
        case EventKind::route: s = "route in table " + std::to_string(e.table); break;
        case EventKind::rule: s = "rule " + std::to_string(e.priority); break;
        case EventKind::xfrm_policy: s = "XFRM policy"; break;
        case EventKind::xfrm_sa: s = "XFRM SA"; break;
    }
    if (e.kind == EventKind::xfrm_policy || e.kind == EventKind::xfrm_sa) {
        char id[16];
        std::snprintf(id, sizeof id, "0x%08x", e.if_id);
        s += std::string(" if_id ") + id;
    }
    s += e.removed ? " removed" : " added or changed";
    s += e.sender ? " by netlink port " + std::to_string(e.sender) : " by the kernel (or a writer that names no port)";
    return s;
}

}  // namespace avpn::runtime
