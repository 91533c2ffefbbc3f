// Allocations (tunnel addresses, SPI slots, reqids) depend only on who is in
// a group: member names, pinned addresses, the tunnel subnet. Not on what a
// member exports or where it is. The incremental planner hands the last ones
// back, so a change that keeps the member list reuses them instead of
// hashing and probing 10,000 names again; a changed list allocates afresh,
// exactly as plan() does.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/plan/firewall_plan.hpp"

namespace avpn::planner {

struct GroupAllocations {
    Prefix subnet;
    std::vector<std::string> names;  // GroupModel::members order
    std::vector<std::optional<IpAddr>> pins;
    std::vector<uint64_t> name_hashes;
    std::vector<IpAddr> addresses;
    std::vector<uint32_t> spi_slots;  // XFRM groups only
};

struct ReqidAllocation {
    std::vector<std::string> keys;  // "<group>/<peer>"
    std::vector<uint32_t> reqids;
};

struct SiteAllocations {
    std::map<std::string, std::shared_ptr<const GroupAllocations>> groups;  // by group name
    std::shared_ptr<const ReqidAllocation> reqids;
    // Not an allocation, but reused the same way: the last firewall table
    // with its inputs (firewall_plan.hpp); null when the site is off.
    std::shared_ptr<const fw::PlannedFirewall> firewall;
};

}  // namespace avpn::planner
