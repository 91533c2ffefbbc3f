// Generic netlink: resolving a family's id by name (CTRL_CMD_GETFAMILY).
#pragma once

#include <string_view>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

// The family's id. ENOENT ("No such file or directory") means the family is
// not registered: for "wireguard", the kernel module is not loaded.
Result<uint16_t> resolve_family(Transport& genl, std::string_view name);

// Starts a generic netlink message: header and genlmsghdr{cmd, version}.
void put_genl_header(MsgWriter& w, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags);

}  // namespace avpn::nl
