// avpnctl genkey / pubkey: site keys in the format `wg genkey` / `wg pubkey`
// use, so an operator can use either tool.
#include <iostream>
#include <iterator>
#include <string>

#include "common/crypto.hpp"
#include "orchestrator/cli/command.hpp"

namespace avpn::cli {

Handler setup_genkey(Options& sub) {
    sub.footer("Store it with mode 0600, e.g.: (umask 077; avpnctl genkey > /etc/avpn/site.key)");
    return [] {
        auto key = crypto::generate_private_key();
        if (!key) {
            std::cerr << "avpnctl genkey: " << key.error().str() << "\n";
            return int(kFailed);
        }
        std::cout << crypto::base64_encode(key->data(), key->size()) << "\n";
        crypto::wipe(key->data(), key->size());
        return int(kOk);
    };
}

Handler setup_pubkey(Options&) {
    return [] {
        std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        auto key = crypto::base64_decode_key(text);
        crypto::wipe(text.data(), text.size());
        if (!key) {
            std::cerr << "avpnctl pubkey: stdin: " << key.error().why << "\n";
            return int(kInvalid);
        }
        auto pub = crypto::public_key(*key);
        crypto::wipe(key->data(), key->size());
        if (!pub) {
            std::cerr << "avpnctl pubkey: " << pub.error().str() << "\n";
            return int(kFailed);
        }
        std::cout << crypto::base64_encode(pub->data(), pub->size()) << "\n";
        return int(kOk);
    };
}

}  // namespace avpn::cli
