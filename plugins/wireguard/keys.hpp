// The device private key: read from its file at apply time only (the model
// holds a KeyRef, never the key), and sent only when it really changes, which
// is told by comparing public keys (a device never reports its private key
// back through avpn's model).
#pragma once

#include <string>

#include "netlink/objects.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::wg {

// A base64 key file (as `wg genkey` or `avpnctl genkey` writes it). Refused
// unless it is a regular file with no group/other permissions (0600 or
// stricter). Every buffer that held the text is wiped.
Result<SecretKey> read_private_key_file(const std::string& path);

// Resolves `key` and puts it into `change` when its public key differs from
// `observed_public_key` (base64; empty when the device has no key yet).
Status set_private_key_if_changed(WgDeviceChange& change, const nl::KeyRef& key,
                                  const std::string& observed_public_key);

}  // namespace avpn::wg
