#include "plugins/keying/noise_primitives.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>

namespace avpn::keying {

namespace {

struct MdCtxFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
struct MacCtxFree { void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); } };
struct CipherCtxFree { void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); } };

Error failure(std::string what) { return Error{std::move(what), "", "libcrypto failure"}; }

// Fetched once: an EVP_MAC fetch per handshake would be a lock and a lookup
// for nothing. Kept reachable until exit (not a leak).
EVP_MAC* mac_algorithm(const char* name) {
    static EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    static EVP_MAC* blake = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
    return std::string_view(name) == "HMAC" ? hmac : blake;
}

// One MAC over the concatenation of parts, `out_len` bytes.
bool mac_parts(const char* algorithm, OSSL_PARAM* params, ByteView key,
               std::initializer_list<ByteView> parts, uint8_t* out, size_t out_len) {
    EVP_MAC* mac = mac_algorithm(algorithm);
    if (!mac) return false;
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(mac));
    if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return false;
    for (auto p : parts)
        if (!p.empty() && EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1) return false;
    size_t len = 0;
    return EVP_MAC_final(ctx.get(), out, &len, out_len) == 1 && len == out_len;
}

}  // namespace

Result<Key32> blake2s(std::initializer_list<ByteView> parts) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    Key32 out;
    unsigned len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_blake2s256(), nullptr) != 1) return failure("BLAKE2s");
    for (auto p : parts)
        if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return failure("BLAKE2s");
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) return failure("BLAKE2s");
    return out;
}

Result<Key32> hmac_blake2s(const Key32& key, std::initializer_list<ByteView> parts) {
    char digest[] = "BLAKE2S-256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    Key32 out;
    if (!mac_parts("HMAC", params, key, parts, out.data(), out.size())) return failure("HMAC-BLAKE2s");
    return out;
}

Result<std::vector<Secret32>> noise_hkdf(const Key32& chaining_key, ByteView ikm, int outputs) {
    if (outputs < 2 || outputs > 3) return Error{"HKDF", "", "2 or 3 outputs"};
    auto temp = hmac_blake2s(chaining_key, {ikm});
    if (!temp) return temp.error();
    Secret32 temp_key(*temp);
    crypto::wipe(temp->data(), temp->size());
    std::vector<Secret32> out;
    for (int i = 1; i <= outputs; ++i) {
        const uint8_t counter = uint8_t(i);
        ByteView prev = out.empty() ? ByteView{} : ByteView(out.back().get());
        auto o = hmac_blake2s(temp_key.get(), {prev, ByteView(&counter, 1)});
        if (!o) return o.error();
        out.emplace_back(*o);
        crypto::wipe(o->data(), o->size());
    }
    return out;
}

Result<Mac16> keyed_blake2s_128(ByteView key, std::initializer_list<ByteView> parts) {
    size_t size = 16;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    Mac16 out;
    if (!mac_parts("BLAKE2SMAC", params, key, parts, out.data(), out.size()))
        return failure("keyed BLAKE2s-128");
    return out;
}

namespace {

// One ChaCha20-Poly1305 pass; `seal` chooses the direction. On open the
// tag is the last 16 bytes of `in`.
Result<Bytes> chachapoly(bool seal, const Key32& key, const std::array<uint8_t, 12>& nonce, ByteView ad,
                         ByteView in) {
    if (!seal && in.size() < kTagLen) return Error{"decrypt", "", "shorter than a tag"};
    const size_t body = seal ? in.size() : in.size() - kTagLen;
    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
    Bytes out(body + (seal ? kTagLen : 0));
    int len = 0;
    if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, key.data(), nonce.data(),
                                  seal ? 1 : 0) != 1)
        return failure("ChaCha20-Poly1305");
    if (!seal && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, int(kTagLen),
                                     const_cast<uint8_t*>(in.data() + body)) != 1)
        return failure("ChaCha20-Poly1305");
    if (!ad.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &len, ad.data(), int(ad.size())) != 1)
        return failure("ChaCha20-Poly1305");
    if (body > 0 && EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), int(body)) != 1)
        return failure("ChaCha20-Poly1305");
    if (EVP_CipherFinal_ex(ctx.get(), out.data() + body, &len) != 1) {
        crypto::wipe(out.data(), out.size());
        return Error{"decrypt", "", "authentication tag mismatch"};
    }
    if (seal && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, int(kTagLen), out.data() + body) != 1)
        return failure("ChaCha20-Poly1305");
    return out;
}

}  // namespace

Result<Bytes> aead_seal(const Key32& key, const std::array<uint8_t, 12>& nonce, ByteView ad, ByteView plaintext) {
    return chachapoly(true, key, nonce, ad, plaintext);
}

Result<Bytes> aead_open(const Key32& key, const std::array<uint8_t, 12>& nonce, ByteView ad, ByteView sealed) {
    return chachapoly(false, key, nonce, ad, sealed);
}

std::array<uint8_t, 12> noise_nonce(uint64_t n) {
    std::array<uint8_t, 12> out{};
    for (int i = 0; i < 8; ++i) out[4 + i] = uint8_t(n >> (8 * i));
    return out;
}

bool equal_ct(ByteView a, ByteView b) { return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace avpn::keying
