#include "orchestrator/plan/tunnel_addresses.hpp"

#include <algorithm>

#include "orchestrator/plan/slot_allocator.hpp"

namespace avpn::planner {

namespace {

constexpr int kMaxHostBits = 62;

int host_bits(const Prefix& p) { return p.addr.max_len() - p.len; }

// The low 64 bits of an address, as an integer (v4: its 32 bits).
uint64_t low64(const IpAddr& a) {
    uint64_t v = 0;
    for (size_t i = a.size() >= 8 ? a.size() - 8 : 0; i < a.size(); ++i) v = v << 8 | a.bytes[i];
    return v;
}

IpAddr with_low64(IpAddr a, uint64_t v) {
    for (size_t i = a.size(); i-- > (a.size() >= 8 ? a.size() - 8 : 0);) {
        a.bytes[i] = uint8_t(v);
        v >>= 8;
    }
    return a;
}

}  // namespace

Result<HostSpace> HostSpace::of(const Prefix& subnet) {
    HostSpace s;
    s.subnet_ = subnet;
    int bits = host_bits(subnet);
    if (subnet.family() == Family::v4) {
        if (bits < 2)
            return Error{"allocate tunnel addresses", subnet.str(),
                         "the tunnel subnet has no usable host addresses (needs /30 or larger)"};
        s.size_ = (uint64_t(1) << bits) - 2;
    } else {
        if (bits < 1)
            return Error{"allocate tunnel addresses", subnet.str(),
                         "the tunnel subnet has no usable host addresses"};
        s.size_ = (uint64_t(1) << std::min(bits, kMaxHostBits)) - 1;
    }
    return s;
}

IpAddr HostSpace::address(uint64_t slot) const {
    return with_low64(subnet_.addr, low64(subnet_.addr) + slot + 1);
}

std::optional<uint64_t> HostSpace::slot(const IpAddr& a) const {
    if (!subnet_.contains(a)) return std::nullopt;
    // Host bits beyond the low 64 must be zero (only possible for IPv6).
    for (size_t i = 0; i + 8 < a.size(); ++i)
        if (a.bytes[i] != subnet_.addr.bytes[i]) return std::nullopt;
    uint64_t offset = low64(a) - low64(subnet_.addr);
    if (offset == 0 || offset - 1 >= size_) return std::nullopt;
    return offset - 1;
}

std::vector<IpAddr> allocate_tunnel_addresses(const Group& group,
                                              const std::vector<AddressRequest>& requests,
                                              Errors& errors) {
    std::vector<IpAddr> out(requests.size());
    auto space = HostSpace::of(group.tunnel_subnet);
    if (!space) {
        errors.push_back({space.error().what, group.loc.str(), space.error().why});
        return out;
    }
    if (requests.size() > space->size()) {
        errors.push_back({"allocate tunnel addresses", group.loc.str(),
                          "tunnel subnet " + group.tunnel_subnet.str() + " has room for " +
                              std::to_string(space->size()) + " sites, group " + group.name +
                              " has " + std::to_string(requests.size())});
        return out;
    }
    std::vector<SlotRequest> slots(requests.size());
    bool pins_ok = true;
    for (size_t i = 0; i < requests.size(); ++i) {
        const AddressRequest& r = requests[i];
        slots[i].key = r.site;
        slots[i].home = r.name_hash % space->size();
        if (!r.pinned) continue;
        slots[i].pinned = space->slot(*r.pinned);
        if (!slots[i].pinned) {
            pins_ok = false;
            errors.push_back({"pin tunnel address", r.loc ? r.loc->str() : std::string(r.site),
                              r.pinned->str() + " of site " + std::string(r.site) +
                                  " is not a usable host address of " + group.tunnel_subnet.str()});
        }
    }
    if (!pins_ok) return out;
    SlotAllocation alloc = allocate_slots(slots, space->size());
    for (const PinnedClash& c : alloc.clashes) {
        const AddressRequest& a = requests[c.first];
        const AddressRequest& b = requests[c.second];
        errors.push_back({"pin tunnel address", b.loc ? b.loc->str() : std::string(b.site),
                          "sites " + std::string(a.site) + " and " + std::string(b.site) +
                              " are both pinned to " + b.pinned->str() + " in group " + group.name});
    }
    for (size_t i = 0; i < requests.size(); ++i) out[i] = space->address(alloc.slots[i]);
    return out;
}

}  // namespace avpn::planner
