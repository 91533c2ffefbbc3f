#include <doctest/doctest.h>

#include "common/crypto.hpp"

using namespace avpn::crypto;

TEST_CASE("X25519 public key matches RFC 7748 test vector") {
    // RFC 7748 section 6.1, Alice's key pair.
    Key32 priv = {0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
                  0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
                  0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
    auto pub = public_key(priv);
    REQUIRE(pub);
    CHECK(base64_encode(pub->data(), 32) == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
}

TEST_CASE("generated keys round-trip through base64 and agree on a shared secret") {
    auto a = generate_private_key();
    auto b = generate_private_key();
    REQUIRE(a);
    REQUIRE(b);
    auto text = base64_encode(a->data(), 32);
    auto back = base64_decode_key(text + "\n");
    REQUIRE(back);
    CHECK(*back == *a);
    auto ab = shared_secret(*a, *public_key(*b));
    auto ba = shared_secret(*b, *public_key(*a));
    REQUIRE(ab);
    REQUIRE(ba);
    CHECK(*ab == *ba);
}

TEST_CASE("bad base64 keys are errors, not crashes") {
    CHECK_FALSE(base64_decode_key(""));
    CHECK_FALSE(base64_decode_key("abc"));
    CHECK_FALSE(base64_decode_key(std::string(44, '!')));
    CHECK_FALSE(base64_decode_key(std::string(42, 'A') + "=="));  // 31 bytes
    CHECK(base64_decode_key(std::string(43, 'A') + "="));          // 32 zero bytes
}

TEST_CASE("HKDF-SHA256 matches RFC 5869 test case 1 prefix") {
    std::vector<uint8_t> ikm(22, 0x0b);
    std::string salt = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    std::string info = {char(0xf0), char(0xf1), char(0xf2), char(0xf3), char(0xf4),
                        char(0xf5), char(0xf6), char(0xf7), char(0xf8), char(0xf9)};
    auto okm = hkdf_sha256(ikm, salt, info, 42);
    REQUIRE(okm);
    CHECK((*okm)[0] == 0x3c);
    CHECK((*okm)[1] == 0xb2);
    CHECK((*okm)[41] == 0x65);
}
