// UAPI text protocol: exact encodings of set=1 requests and parsing of get=1
// responses as wireguard-go writes them.
#include <doctest/doctest.h>

#include <cerrno>

#include "plugins/wireguard/uapi_codec.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

std::string encode(const WgDeviceChange& c, size_t chunk = uapi::kDefaultChunkBytes, int* calls = nullptr) {
    std::string out;
    Status st = uapi::encode_set(c, c.private_key, [&](std::string_view piece) {
        out.append(piece);
        if (calls) ++*calls;
        return Status{};
    }, chunk);
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    return out;
}

std::string hex_of(const std::string& b64) { return *uapi::base64_key_to_hex(b64); }

}  // namespace

TEST_CASE("hex and base64 keys convert both ways") {
    KeyPair kp = make_key_pair();
    auto hex = uapi::base64_key_to_hex(kp.public_b64);
    REQUIRE(hex.ok());
    CHECK(hex->size() == 64);
    CHECK(hex->find_first_not_of("0123456789abcdef") == std::string::npos);
    auto back = uapi::hex_key_to_base64(*hex);
    REQUIRE(back.ok());
    CHECK(*back == kp.public_b64);
    std::string upper = *hex;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    CHECK(*uapi::hex_key_to_base64(upper) == kp.public_b64);
    CHECK_FALSE(uapi::key_from_hex(hex->substr(0, 62)).ok());
    CHECK_FALSE(uapi::key_from_hex(std::string(63, '0') + "g").ok());
    CHECK_FALSE(uapi::base64_key_to_hex("not base64").ok());
}

TEST_CASE("set=1 encodes device fields and every kind of peer change") {
    KeyPair dev = make_key_pair();
    std::string a = random_public_key(), b = random_public_key(), c = random_public_key();
    WgDeviceChange ch;
    ch.ifname = "avwg0";
    ch.private_key = SecretKey(dev.priv);
    ch.listen_port = 51820;
    ch.fwmark = 0;
    ch.replace_peers = true;
    ch.peers.push_back({.public_key = a, .endpoint = ep("[2001:db8::1]:51820"), .keepalive_seconds = 25,
                        .replace_allowed_ips = true, .allowed_ips = {pfx("10.0.0.0/24"), pfx("fd00::/64")}});
    ch.peers.push_back({.public_key = b, .remove = true, .allowed_ips = {pfx("10.9.0.0/16")}});
    ch.peers.push_back({.public_key = c, .update_only = true, .endpoint = ep("192.0.2.7:4500"),
                        .keepalive_seconds = 0});
    std::string expected = "set=1\nprivate_key=" + uapi::key_to_hex(dev.priv) +
                           "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
                           "public_key=" + hex_of(a) + "\nendpoint=[2001:db8::1]:51820\n"
                           "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n"
                           "public_key=" + hex_of(b) + "\nremove=true\n"
                           "public_key=" + hex_of(c) + "\nupdate_only=true\nendpoint=192.0.2.7:4500\n"
                           "persistent_keepalive_interval=0\n\n";
    CHECK(encode(ch) == expected);
}

TEST_CASE("set=1 of an empty change is just the framing") {
    WgDeviceChange ch;
    ch.ifname = "avwg0";
    CHECK(encode(ch) == "set=1\n\n");
}

TEST_CASE("set=1 streams large changes in chunks that add up to the whole request") {
    WgDeviceChange ch;
    ch.ifname = "avwg0";
    for (int i = 0; i < 300; ++i)
        ch.peers.push_back({.public_key = random_public_key(), .replace_allowed_ips = true,
                            .allowed_ips = {Prefix::make(IpAddr::v4(0x0a000000u + (i << 8)), 24)}});
    int whole_calls = 0, chunk_calls = 0;
    std::string whole = encode(ch, 1 << 20, &whole_calls);
    std::string chunked = encode(ch, 1024, &chunk_calls);
    CHECK(whole_calls == 1);
    CHECK(chunk_calls > 10);
    CHECK(chunked == whole);
    CHECK(whole.ends_with("allowed_ip=10.1.43.0/24\n\n"));
}

TEST_CASE("set=1 with a bad peer key sends nothing") {
    WgDeviceChange ch;
    ch.ifname = "avwg0";
    ch.peers.push_back({.public_key = random_public_key()});
    ch.peers.push_back({.public_key = "AAAA"});
    bool called = false;
    Status st = uapi::encode_set(ch, std::nullopt, [&](std::string_view) { called = true; return Status{}; });
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().what == "invalid peer public key");
    CHECK(st.error().why.find("AAAA") != std::string::npos);
    CHECK_FALSE(called);
}

TEST_CASE("a sink error stops the encoder") {
    WgDeviceChange ch;
    ch.ifname = "avwg0";
    for (int i = 0; i < 50; ++i) ch.peers.push_back({.public_key = random_public_key()});
    int calls = 0;
    Status st = uapi::encode_set(ch, std::nullopt, [&](std::string_view) {
        ++calls;
        return Status(Error{"send", "avwg0", "broken pipe"});
    }, 256);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why == "broken pipe");
    CHECK(calls == 1);
}

TEST_CASE("errno lines") {
    CHECK(uapi::parse_errno("errno=0", "avwg0").ok());
    Status neg = uapi::parse_errno("errno=-22", "avwg0");
    REQUIRE_FALSE(neg.ok());
    CHECK(neg.error().why == "Invalid argument (errno -22)");
    CHECK(neg.error().where == "avwg0");
    CHECK(neg.error().code == EINVAL);
    Status pos = uapi::parse_errno("errno=98", "avwg0");
    REQUIRE_FALSE(pos.ok());
    CHECK(pos.error().why == "Address already in use (errno 98)");
    CHECK(pos.error().code == EADDRINUSE);
    CHECK(uapi::parse_errno("errno=x", "avwg0").error().code == 0);  // no errno: our parse failed
    CHECK_FALSE(uapi::parse_errno("errno=", "avwg0").ok());
    CHECK_FALSE(uapi::parse_errno("errno=x", "avwg0").ok());
    CHECK_FALSE(uapi::parse_errno("listen_port=1", "avwg0").ok());
}

TEST_CASE("get=1 parses a wireguard-go response into the model and stats") {
    KeyPair dev = make_key_pair();
    std::string a = random_public_key(), b = random_public_key();
    if (b < a) std::swap(a, b);
    std::string text = "private_key=" + uapi::key_to_hex(dev.priv) + "\nlisten_port=51999\nfwmark=7\n"
                       "public_key=" + hex_of(b) + "\npreshared_key=" + std::string(64, '0') +
                       "\nprotocol_version=1\nendpoint=[2001:db8::1]:51820\nlast_handshake_time_sec=1700000000\n"
                       "last_handshake_time_nsec=5\ntx_bytes=100\nrx_bytes=200\npersistent_keepalive_interval=25\n"
                       "allowed_ip=fd00::/64\nallowed_ip=10.0.0.0/24\n"
                       "public_key=" + hex_of(a) + "\nsome_future_field=1\nlast_handshake_time_sec=0\n"
                       "persistent_keepalive_interval=0\nendpoint=192.0.2.9:4500\nerrno=0\n\n";
    auto st = uapi::parse_get(text, "avwg0");
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    CHECK(st->device.public_key == dev.public_b64);
    CHECK(st->device.ifname == "avwg0");
    CHECK(st->device.listen_port == 51999);
    CHECK(st->device.fwmark == 7);
    CHECK(st->device.private_key == nl::KeyRef{});
    REQUIRE(st->device.peers.size() == 2);
    CHECK(st->device.peers[0] == peer(a, {}, "192.0.2.9:4500", 0));
    CHECK(st->device.peers[1] == peer(b, {"10.0.0.0/24", "fd00::/64"}, "[2001:db8::1]:51820", 25));
    REQUIRE(st->peers.size() == 2);
    CHECK(st->peers[0] == WgPeerStats{.public_key = a});
    CHECK(st->peers[1] == WgPeerStats{.public_key = b, .last_handshake_sec = 1700000000,
                                      .last_handshake_nsec = 5, .rx_bytes = 200, .tx_bytes = 100});
}

TEST_CASE("get=1 of a fresh device: no key, no peers") {
    auto st = uapi::parse_get("private_key=" + std::string(64, '0') + "\nlisten_port=40479\nerrno=0\n\n", "avwg0");
    REQUIRE(st.ok());
    CHECK(st->device.public_key.empty());
    CHECK(st->device.listen_port == 40479);
    CHECK(st->device.peers.empty());
}

TEST_CASE("get=1 errors name the line and the field") {
    std::string key_line = "public_key=" + hex_of(random_public_key()) + "\n";
    struct Case { std::string text; std::string why; };
    for (const Case& c : {
             Case{"listen_port=70000\nerrno=0\n", "listen_port: not a port"},
             Case{key_line + "endpoint=1.2.3.4\nerrno=0\n", "endpoint: not ip:port"},
             Case{key_line + "allowed_ip=10.0.0.1/24\nerrno=0\n", "allowed_ip: not a prefix"},
             Case{key_line + "rx_bytes=-1\nerrno=0\n", "rx_bytes: not a number"},
             Case{"public_key=zz\nerrno=0\n", "public_key: "},
             Case{"garbage\nerrno=0\n", "expected key=value"},
             Case{"listen_port=1\n\n", "ended before its errno line"},
             Case{"errno=0\nlisten_port=1\n", "data after errno line"},
         }) {
        auto st = uapi::parse_get(c.text, "avwg0");
        REQUIRE_FALSE(st.ok());
        INFO(st.error().str());
        CHECK(st.error().why.find(c.why) != std::string::npos);
        CHECK(st.error().where.starts_with("avwg0 line "));
    }
}

TEST_CASE("get=1 with a non-zero errno reports the daemon's error") {
    auto st = uapi::parse_get("errno=-5\n\n", "avwg0");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why == "Input/output error (errno -5)");
}
