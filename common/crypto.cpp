#include "common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <memory>

namespace avpn::crypto {

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Ctx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

Error crypto_error(std::string what) { return Error{std::move(what), "", "libcrypto failure"}; }

}  // namespace

std::string base64_encode(const uint8_t* data, size_t len) {
    std::string out(4 * ((len + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(len));
    out.resize(size_t(n));
    return out;
}

Result<Key32> base64_decode_key(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.remove_suffix(1);
    if (text.size() != 44 || text[43] != '=' || text[42] == '=')
        return Error{"decode key", "", "expected 44 base64 characters encoding 32 bytes"};
    unsigned char buf[33];
    int n = EVP_DecodeBlock(buf, reinterpret_cast<const unsigned char*>(text.data()), 44);
    if (n != 33) return Error{"decode key", "", "not valid base64"};
    Key32 k;
    std::copy(buf, buf + 32, k.begin());
    wipe(buf, sizeof buf);
    return k;
}

Result<Key32> generate_private_key() {
    Key32 k;
    if (RAND_bytes(k.data(), int(k.size())) != 1) return crypto_error("generate key");
    k[0] &= 248;  // X25519 clamping, as `wg genkey` stores it
    k[31] = uint8_t((k[31] & 127) | 64);
    return k;
}

Result<Key32> public_key(const Key32& private_key) {
    Pkey p(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), 32));
    if (!p) return crypto_error("load private key");
    Key32 pub;
    size_t len = pub.size();
    if (EVP_PKEY_get_raw_public_key(p.get(), pub.data(), &len) != 1 || len != 32)
        return crypto_error("derive public key");
    return pub;
}

Result<Key32> shared_secret(const Key32& private_key, const Key32& peer_public) {
    Pkey self(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), 32));
    Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), 32));
    if (!self || !peer) return crypto_error("load X25519 keys");
    Ctx ctx(EVP_PKEY_CTX_new(self.get(), nullptr));
    Key32 out;
    size_t len = out.size();
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != 32)
        return Error{"X25519 exchange", "", "peer public key rejected (low-order point?)"};
    return out;
}

Result<std::vector<uint8_t>> hkdf_sha256(const std::vector<uint8_t>& ikm, std::string_view salt,
                                         std::string_view info, size_t out_len) {
    Ctx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
    std::vector<uint8_t> out(out_len);
    size_t len = out_len;
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
        EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), reinterpret_cast<const unsigned char*>(salt.data()),
                                    int(salt.size())) != 1 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.data(), int(ikm.size())) != 1 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                    int(info.size())) != 1 ||
        EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out_len)
        return crypto_error("HKDF-SHA256");
    return out;
}

void wipe(void* p, size_t n) { OPENSSL_cleanse(p, n); }

}  // namespace avpn::crypto
