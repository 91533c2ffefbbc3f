// XFRM SA keys, derived at apply time from a KeyRef, never stored in a plan.
//
// key(A->B, epoch) = HKDF-SHA256(ikm  = X25519(A's private, B's public),
//                                salt = "avpn xfrm v1",
//                                info = label ("A->B") "/" epoch)
// Both ends compute the same shared secret, and the label names the
// direction, so A's outbound SA and B's inbound SA get the same key while
// the two directions never share one. Threat model (docs/security.md): this
// is static-static key agreement; it authenticates the sites but gives no
// forward secrecy. Rotation comes from the epoch; forward secrecy needs
// WireGuard or IKEv2.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.hpp"
#include "netlink/objects.hpp"

namespace avpn {

// key_bits/8 bytes (GCM: key + 4-byte salt). The caller wipes the result.
Result<std::vector<uint8_t>> derive_sa_key(const nl::KeyRef& ref, uint32_t key_bits);

}  // namespace avpn
