// A fresh X25519 key pair for runtime tests: the private key written as a
// site key file (base64, mode 0600, as avpn reads it), the public one kept.
#pragma once

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "common/crypto.hpp"

namespace avpn::test {

struct KeyFile {
    std::string path, public_b64;
    crypto::Key32 public_key{};
};

inline KeyFile make_key(const std::string& dir, const std::string& name) {
    auto priv = crypto::generate_private_key();
    REQUIRE(priv.ok());
    auto pub = crypto::public_key(*priv);
    REQUIRE(pub.ok());
    KeyFile k{dir + "/" + name + ".key", crypto::base64_encode(pub->data(), 32), *pub};
    std::ofstream(k.path) << crypto::base64_encode(priv->data(), 32) << "\n";
    ::chmod(k.path.c_str(), 0600);
    return k;
}

}  // namespace avpn::test
