// The named counters of one nftables table, read over nfnetlink
// (NFT_MSG_GETOBJ, a dump filtered by the kernel to the table and the
// counter type). libnftables answers `list counters` only after filling its
// whole cache, every set element included: 0.34-0.54 s for a table with a
// 50,000-prefix set (nftables 1.0.6, measured), where this reads the
// counters alone. No policy: which table is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

struct NftCounter {
    std::string name;
    uint64_t packets = 0, bytes = 0;
};

// nfnl: a transport on NETLINK_NETFILTER; family: NFPROTO_INET and the
// like. A table that does not exist has none: the kernel's dump, filtered
// by table, is empty.
Result<std::vector<NftCounter>> nftables_counters(Transport& nfnl, uint8_t family, std::string_view table);

}  // namespace avpn::nl
