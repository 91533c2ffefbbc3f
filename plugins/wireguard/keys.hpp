// The device private key: read from its file at apply time only (the model
// holds a KeyRef, never the key). Whether it must be sent at all is diff()'s
// decision, by comparing public keys.
#pragma once

#include <optional>
#include <string>

#include "netlink/objects.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::wg {

// A base64 key file (as `wg genkey` or `avpnctl genkey` writes it). Refused
// unless it is a regular file with no group/other permissions (0600 or
// stricter). Every buffer that held the text is wiped.
Result<SecretKey> read_private_key_file(const std::string& path);

// The key bytes a backend sends for `change`: its bytes, else the file of
// its private_key_ref read now, else none.
Result<std::optional<SecretKey>> resolve_private_key(const WgDeviceChange& change);

}  // namespace avpn::wg
