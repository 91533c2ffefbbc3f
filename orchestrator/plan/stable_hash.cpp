#include "orchestrator/plan/stable_hash.hpp"

#include <openssl/sha.h>

namespace avpn::planner {

uint64_t stable_hash(std::string_view text) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h = h << 8 | digest[i];
    return h;
}

}  // namespace avpn::planner
