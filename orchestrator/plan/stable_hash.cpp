#include "orchestrator/plan/stable_hash.hpp"

#include <openssl/evp.h>

namespace avpn::planner {

// The digest is fetched once: SHA256() fetches it again on every call in
// OpenSSL 3, which was a quarter of a 10,000-member group's model build.
// Should the fetch fail (a FIPS provider without SHA-256), the name-only
// EVP_sha256() still works.
std::array<uint8_t, 32> sha256(std::string_view text) {
    static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    const EVP_MD* md = fetched ? fetched : EVP_sha256();
    std::array<uint8_t, 32> digest{};
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &len, md, nullptr);
    return digest;
}

uint64_t stable_hash(std::string_view text) {
    const std::array<uint8_t, 32> digest = sha256(text);
    uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h = h << 8 | digest[i];
    return h;
}

}  // namespace avpn::planner
