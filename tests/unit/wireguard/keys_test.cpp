// Private key files: strict permissions, wiping, and "send only on change".
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

#include "plugins/wireguard/keys.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

std::string write_key_file(const TempDir& dir, const std::string& text, mode_t mode) {
    std::string path = dir.file("site.key");
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
}

}  // namespace

TEST_CASE("a 0600 key file is read; whitespace around the key is fine") {
    TempDir dir;
    KeyPair kp = make_key_pair();
    std::string path = write_key_file(dir, crypto::base64_encode(kp.priv.data(), 32) + "\n", 0600);
    auto key = read_private_key_file(path);
    REQUIRE_MESSAGE(key.ok(), (key.ok() ? "" : key.error().str()));
    CHECK(key->bytes() == kp.priv);
}

TEST_CASE("key files that are readable by others, malformed or missing are refused") {
    TempDir dir;
    KeyPair kp = make_key_pair();
    auto open_key = read_private_key_file(write_key_file(dir, crypto::base64_encode(kp.priv.data(), 32), 0644));
    REQUIRE_FALSE(open_key.ok());
    CHECK(open_key.error().why.find("mode 0644") != std::string::npos);
    CHECK(open_key.error().why.find("chmod 600") != std::string::npos);

    CHECK_FALSE(read_private_key_file(write_key_file(dir, "short", 0600)).ok());
    CHECK_FALSE(read_private_key_file(write_key_file(dir, std::string(1000, 'A'), 0600)).ok());
    auto missing = read_private_key_file(dir.file("none.key"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().why == "No such file or directory");
}

TEST_CASE("resolve_private_key: bytes win, else the file is read, else nothing") {
    TempDir dir;
    KeyPair in_file = make_key_pair(), in_bytes = make_key_pair();
    nl::KeyRef ref{.private_key_file = write_key_file(dir, crypto::base64_encode(in_file.priv.data(), 32), 0600)};
    WgDeviceChange ch{.ifname = "avwg0"};
    auto none = resolve_private_key(ch);
    REQUIRE(none.ok());
    CHECK_FALSE(*none);

    ch.private_key_ref = ref;
    auto from_file = resolve_private_key(ch);
    REQUIRE(from_file.ok());
    REQUIRE(*from_file);
    CHECK((*from_file)->bytes() == in_file.priv);

    ch.private_key = SecretKey(in_bytes.priv);
    auto from_bytes = resolve_private_key(ch);
    REQUIRE(from_bytes.ok());
    CHECK((*from_bytes)->bytes() == in_bytes.priv);

    WgDeviceChange bad{.ifname = "avwg0", .private_key_ref = nl::KeyRef{.private_key_file = dir.file("none")}};
    auto missing = resolve_private_key(bad);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().where == "avwg0: " + dir.file("none"));
}

TEST_CASE("SecretKey wipes the source on move and itself on request") {
    KeyPair kp = make_key_pair();
    SecretKey a(kp.priv);
    SecretKey b(std::move(a));
    CHECK(b.bytes() == kp.priv);
    CHECK(a.bytes() == crypto::Key32{});  // NOLINT(bugprone-use-after-move): wiping is the point
    b.wipe();
    CHECK(b.bytes() == crypto::Key32{});
}
