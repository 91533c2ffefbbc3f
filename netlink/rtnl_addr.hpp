// rtnetlink interface addresses: add, delete, dump.
#pragma once

#include <optional>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

class LinkIndex;

enum class AddrOp : uint8_t { add, remove };

// An address with the index it was reported on (ifname is filled only when
// the caller resolves names).
struct AddressEntry {
    uint32_t ifindex = 0;
    InterfaceAddress address;
};

Status encode_address(MsgWriter& w, AddrOp op, const InterfaceAddress& a, uint32_t ifindex);
Result<AddressEntry> parse_address(const nlmsghdr* h);

// Every address (or those of one interface), with raw indexes.
Result<std::vector<AddressEntry>> dump_address_entries(Transport& t, std::optional<uint32_t> ifindex);
// The same, as model values named through names; sorted.
Result<std::vector<InterfaceAddress>> dump_addresses(Transport& t, const LinkIndex& names,
                                                     std::optional<uint32_t> ifindex = std::nullopt);

}  // namespace avpn::nl
