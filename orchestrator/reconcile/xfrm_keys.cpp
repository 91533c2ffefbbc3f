#include "orchestrator/reconcile/xfrm_keys.hpp"

#include "common/crypto.hpp"
#include "plugins/wireguard/keys.hpp"

namespace avpn {

Result<std::vector<uint8_t>> derive_sa_key(const nl::KeyRef& ref, uint32_t key_bits) {
    if (key_bits == 0 || key_bits % 8 != 0 || key_bits > 512)
        return Error{"derive SA key", ref.label, "unsupported key length " + std::to_string(key_bits)};
    auto own = wg::read_private_key_file(ref.private_key_file);  // also enforces mode 0600
    if (!own) return own.error();
    auto peer = crypto::base64_decode_key(ref.peer_public_key);
    if (!peer) return Error{"derive SA key", ref.label, "peer public key: " + peer.error().why};
    auto shared = crypto::shared_secret(own->bytes(), *peer);
    if (!shared) return Error{"derive SA key", ref.label, shared.error().why};
    std::vector<uint8_t> ikm(shared->begin(), shared->end());
    crypto::wipe(shared->data(), shared->size());
    auto key = crypto::hkdf_sha256(ikm, "avpn xfrm v1", ref.label + "/" + std::to_string(ref.epoch), key_bits / 8);
    crypto::wipe(ikm.data(), ikm.size());
    return key;
}

}  // namespace avpn
