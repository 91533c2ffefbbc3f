// nftables' ruleset generation (NFT_MSG_GETGEN on NETLINK_NETFILTER): a
// counter the kernel bumps with every committed nftables transaction in the
// network namespace, whoever made it. Equal generations mean no table,
// chain, rule, set or element changed in between, so a caller that compared
// a table at one generation need not list it again at the same one.
#pragma once

#include <cstdint>

#include "common/result.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

// nfnl: a transport on NETLINK_NETFILTER.
Result<uint32_t> nftables_generation(Transport& nfnl);

}  // namespace avpn::nl
