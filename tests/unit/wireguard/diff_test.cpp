// diff(): the syncconf-style delta between desired and observed devices.
#include <doctest/doctest.h>

#include <algorithm>

#include "plugins/wireguard/backend.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

struct Keys {
    std::string a, b, c;
    Keys() {
        std::vector<std::string> k{random_public_key(), random_public_key(), random_public_key()};
        std::sort(k.begin(), k.end());
        a = k[0], b = k[1], c = k[2];
    }
};

nl::WgDevice device(std::vector<nl::WgPeer> peers, uint16_t port = 51820, uint32_t fwmark = 0) {
    nl::WgDevice d;
    d.ifname = "avwg0";
    d.listen_port = port;
    d.fwmark = fwmark;
    d.peers = std::move(peers);
    return d;
}

}  // namespace

TEST_CASE("identical devices diff to nothing") {
    Keys k;
    auto d = device({peer(k.a, {"10.1.0.0/16"}, "192.0.2.1:51820", 25), peer(k.b, {"10.2.0.0/16"})});
    WgDeviceChange ch = diff(d, d);
    CHECK(ch.empty());
    CHECK(ch.ifname == "avwg0");
}

TEST_CASE("a new peer is added with its whole allowed-ip list") {
    Keys k;
    auto want = device({peer(k.a, {"10.1.0.0/16"}), peer(k.b, {"10.3.0.0/16", "10.2.0.0/16"}, "[2001:db8::2]:51820", 25)});
    auto have = device({peer(k.a, {"10.1.0.0/16"})});
    WgDeviceChange ch = diff(want, have);
    REQUIRE(ch.peers.size() == 1);
    CHECK(ch.peers[0] == WgPeerChange{.public_key = k.b, .endpoint = ep("[2001:db8::2]:51820"),
                                      .keepalive_seconds = 25, .replace_allowed_ips = true,
                                      .allowed_ips = {pfx("10.2.0.0/16"), pfx("10.3.0.0/16")}});
    CHECK_FALSE(ch.replace_peers);
    CHECK_FALSE(ch.empty());
}

TEST_CASE("a peer only observed is removed") {
    Keys k;
    auto want = device({peer(k.b, {"10.2.0.0/16"})});
    auto have = device({peer(k.a, {"10.1.0.0/16"}), peer(k.b, {"10.2.0.0/16"}), peer(k.c, {"10.3.0.0/16"})});
    WgDeviceChange ch = diff(want, have);
    REQUIRE(ch.peers.size() == 2);
    CHECK(ch.peers[0] == WgPeerChange{.public_key = k.a, .remove = true});
    CHECK(ch.peers[1] == WgPeerChange{.public_key = k.c, .remove = true});
}

TEST_CASE("a changed endpoint updates only the endpoint") {
    Keys k;
    auto want = device({peer(k.a, {"10.1.0.0/16"}, "192.0.2.2:51820", 25)});
    auto have = device({peer(k.a, {"10.1.0.0/16"}, "192.0.2.1:51820", 25)});
    WgDeviceChange ch = diff(want, have);
    REQUIRE(ch.peers.size() == 1);
    CHECK(ch.peers[0] == WgPeerChange{.public_key = k.a, .update_only = true, .endpoint = ep("192.0.2.2:51820"),
                                      .keepalive_seconds = 25});
}

TEST_CASE("a desired peer without endpoint keeps the endpoint it roamed to") {
    Keys k;
    auto want = device({peer(k.a, {"10.1.0.0/16"})});
    auto have = device({peer(k.a, {"10.1.0.0/16"}, "198.51.100.4:40000")});
    CHECK(diff(want, have).empty());
}

TEST_CASE("changed allowed IPs replace the list; keepalive changes are explicit, 0 included") {
    Keys k;
    auto want = device({peer(k.a, {"10.1.0.0/16", "10.9.0.0/16"}, nullptr, 0)});
    auto have = device({peer(k.a, {"10.1.0.0/16"}, nullptr, 25)});
    WgDeviceChange ch = diff(want, have);
    REQUIRE(ch.peers.size() == 1);
    CHECK(ch.peers[0] == WgPeerChange{.public_key = k.a, .update_only = true, .keepalive_seconds = 0,
                                      .replace_allowed_ips = true,
                                      .allowed_ips = {pfx("10.1.0.0/16"), pfx("10.9.0.0/16")}});
}

TEST_CASE("allowed-ip order does not matter") {
    Keys k;
    auto want = device({peer(k.a, {"10.9.0.0/16", "10.1.0.0/16"})});
    auto have = device({peer(k.a, {"10.1.0.0/16", "10.9.0.0/16"})});
    CHECK(diff(want, have).empty());
}

TEST_CASE("unsorted peer lists diff as if sorted") {
    Keys k;
    auto want = device({peer(k.c, {"10.3.0.0/16"}), peer(k.a, {"10.1.0.0/16"})});
    auto have = device({peer(k.b, {"10.2.0.0/16"}), peer(k.a, {"10.1.0.0/16"})});
    WgDeviceChange ch = diff(want, have);
    REQUIRE(ch.peers.size() == 2);
    CHECK(ch.peers[0] == WgPeerChange{.public_key = k.b, .remove = true});
    CHECK(ch.peers[1].public_key == k.c);
    CHECK_FALSE(ch.peers[1].remove);
}

TEST_CASE("device fields: port 0 means any, fwmark is compared exactly") {
    CHECK(diff(device({}, 0), device({}, 40479)).empty());
    WgDeviceChange port = diff(device({}, 51820), device({}, 40479));
    CHECK(port.listen_port == std::optional<uint16_t>(51820));
    CHECK_FALSE(port.fwmark);
    WgDeviceChange mark_off = diff(device({}, 51820, 0), device({}, 51820, 0x41));
    CHECK(mark_off.fwmark == std::optional<uint32_t>(0));
    CHECK_FALSE(mark_off.listen_port);
}

TEST_CASE("full_config replaces every peer") {
    Keys k;
    WgDeviceChange ch = full_config(device({peer(k.b, {"10.2.0.0/16"}), peer(k.a, {"10.1.0.0/16"})}, 0, 5));
    CHECK(ch.replace_peers);
    CHECK_FALSE(ch.listen_port);
    CHECK(ch.fwmark == std::optional<uint32_t>(5));
    REQUIRE(ch.peers.size() == 2);
    CHECK(ch.peers[0].public_key == k.a);
    CHECK(ch.peers[1].public_key == k.b);
    CHECK(ch.peers[1].replace_allowed_ips);
}

TEST_CASE("the device key is compared by its public half and sent from its file") {
    nl::KeyRef ref{.private_key_file = "/etc/avpn/site.key"};
    auto want = device({});
    want.private_key = ref;
    want.public_key = random_public_key();
    auto have = device({});
    have.public_key = want.public_key;
    CHECK(diff(want, have).empty());
    have.public_key = random_public_key();
    WgDeviceChange rekey = diff(want, have);
    CHECK(rekey.private_key_ref == ref);
    CHECK_FALSE(rekey.private_key);
    have.public_key.clear();  // a fresh device without a key
    CHECK(diff(want, have).private_key_ref == ref);
    want.private_key = {};  // no key file: the plan leaves the key alone
    CHECK(diff(want, have).empty());
    CHECK(full_config(device({})).private_key_ref == std::nullopt);
}

TEST_CASE("the private key alone makes a change non-empty") {
    WgDeviceChange ch;
    CHECK(ch.empty());
    ch.private_key = SecretKey(make_key_pair().priv);
    CHECK_FALSE(ch.empty());
    WgDeviceChange by_ref;
    by_ref.private_key_ref = nl::KeyRef{.private_key_file = "/k"};
    CHECK_FALSE(by_ref.empty());
}
