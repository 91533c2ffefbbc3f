// Tunnel addresses: every member of a group (this site included) gets one
// from the group's tunnel subnet, derived from its name only, so every site
// computes the same address for every member without talking to anyone.
//
// Usable host k (0-based) of the subnet is network + 1 + k: the network
// address (and, for IPv4, the broadcast address) is never handed out. A
// member's home is stable_hash(name) mod the usable-host count; pinned
// addresses are taken first; the rest are placed by allocate_slots (linear
// probing in (home, name) order). Two members pinned to one address is an
// error naming both.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "orchestrator/intent.hpp"

namespace avpn::planner {

// The allocatable part of a tunnel subnet. IPv6 subnets use at most their
// low 62 host bits, which is more room than any group will ever need.
class HostSpace {
public:
    static Result<HostSpace> of(const Prefix& subnet);
    uint64_t size() const { return size_; }
    IpAddr address(uint64_t slot) const;             // slot < size()
    std::optional<uint64_t> slot(const IpAddr&) const;  // none: not allocatable

private:
    Prefix subnet_;
    uint64_t size_ = 0;
};

struct AddressRequest {
    std::string_view site;
    uint64_t name_hash = 0;           // stable_hash(site)
    std::optional<IpAddr> pinned;
    const SourceLoc* loc = nullptr;   // where the pin (or the member) is declared
};

// One address per request, in request order. Errors are appended to `errors`
// (and the returned addresses must then not be used).
std::vector<IpAddr> allocate_tunnel_addresses(const Group& group,
                                              const std::vector<AddressRequest>& requests,
                                              Errors& errors);

}  // namespace avpn::planner
