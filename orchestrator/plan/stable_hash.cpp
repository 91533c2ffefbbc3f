#include "orchestrator/plan/stable_hash.hpp"

#include <openssl/evp.h>

namespace avpn::planner {

// The digest is fetched once: SHA256() fetches it again on every call in
// OpenSSL 3, which was a quarter of a 10,000-member group's model build.
// Should the fetch fail (a FIPS provider without SHA-256), the name-only
// EVP_sha256() still works.
uint64_t stable_hash(std::string_view text) {
    static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    const EVP_MD* md = fetched ? fetched : EVP_sha256();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest, &len, md, nullptr);
    uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h = h << 8 | digest[i];
    return h;
}

}  // namespace avpn::planner
