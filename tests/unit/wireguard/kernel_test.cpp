// The kernel backend adapter against a scripted kernel (the netlink layer's
// FakeTransport): what reaches the wire for a delta, how status converts, and
// how a change that leaves keepalives alone reads them first.
#include <doctest/doctest.h>

#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include <algorithm>

#include "plugins/wireguard/kernel.hpp"
#include "tests/unit/netlink/fake_transport.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;
namespace nt = avpn::nl::test;

namespace {

constexpr uint16_t kFamily = 0x1d;

// A kernel that acks every SET_DEVICE message, remembers them, and answers a
// GET_DEVICE dump with `device` (sent in the same layout as a set).
struct ScriptedKernel {
    nl::WgDevice device;
    std::vector<std::vector<uint8_t>> sets;
    int dumps = 0;
    int fail_with = 0;  // errno for every set message

    std::function<nt::Datagrams(nl::Bytes)> fn() {
        return [this](nl::Bytes d) {
            nt::Datagrams out;
            for (const nlmsghdr* h : nt::messages(d)) {
                if (h->nlmsg_flags & NLM_F_DUMP) {
                    ++dumps;
                    out.push_back(dump_reply(h->nlmsg_seq));
                } else {
                    sets.emplace_back(reinterpret_cast<const uint8_t*>(h), reinterpret_cast<const uint8_t*>(h) + h->nlmsg_len);
                    out.push_back(nt::ack(h->nlmsg_seq, fail_with));
                }
            }
            return out;
        };
    }

    std::vector<uint8_t> dump_reply(uint32_t seq) {
        nl::WgDeviceUpdate all;
        all.ifname = device.ifname;
        all.listen_port = device.listen_port;
        for (const auto& p : device.peers) all.peers.push_back(nl::WgPeerUpdate{.peer = p});
        auto msgs = nl::encode_set_device(all, kFamily);
        REQUIRE(msgs.ok());
        std::vector<std::vector<uint8_t>> parts;
        for (auto& m : msgs->parts) {
            auto* h = reinterpret_cast<nlmsghdr*>(m.data());
            h->nlmsg_seq = seq;
            h->nlmsg_flags = NLM_F_MULTI;
            parts.push_back(m);
        }
        parts.push_back(nt::done(seq, NLM_F_MULTI));
        return nt::concat(parts);
    }

    // The device the recorded set messages describe, read back.
    nl::WgDeviceState applied() const {
        nl::WgDeviceState st;
        for (const auto& m : sets) REQUIRE(nl::merge_device_message(reinterpret_cast<const nlmsghdr*>(m.data()), st).ok());
        nl::finish_device(st);
        return st;
    }
};

struct Rig {
    ScriptedKernel kernel;
    nt::FakeTransport* transport = nullptr;
    std::unique_ptr<KernelBackend> backend;
    Rig() {
        auto t = std::make_unique<nt::FakeTransport>(NETLINK_GENERIC);
        t->kernel = kernel.fn();
        transport = t.get();
        backend = std::make_unique<KernelBackend>(std::move(t), kFamily);
    }
};

std::vector<std::string> sorted_keys(int n) {
    std::vector<std::string> k;
    for (int i = 0; i < n; ++i) k.push_back(random_public_key());
    std::sort(k.begin(), k.end());
    return k;
}

}  // namespace

TEST_CASE("to_kernel maps every field and flag") {
    auto k = sorted_keys(3);
    KeyPair dev = make_key_pair();
    WgDeviceChange ch{.ifname = "avwg0", .listen_port = 51820, .fwmark = 0, .replace_peers = true};
    ch.peers.push_back({.public_key = k[0], .remove = true, .keepalive_seconds = 9});
    ch.peers.push_back({.public_key = k[1], .update_only = true, .endpoint = ep("[2001:db8::1]:4500"),
                        .keepalive_seconds = 25, .replace_allowed_ips = true, .allowed_ips = {pfx("10.1.0.0/16")}});
    ch.peers.push_back({.public_key = k[2], .keepalive_seconds = 0, .allowed_ips = {pfx("10.2.0.0/16")}});
    nl::WgDeviceUpdate u = to_kernel(ch, SecretKey(dev.priv), nullptr);
    CHECK(u.ifname == "avwg0");
    CHECK(u.private_key == dev.priv);
    CHECK(u.listen_port == std::optional<uint16_t>(51820));
    CHECK(u.fwmark == std::optional<uint32_t>(0));
    CHECK(u.replace_peers);
    REQUIRE(u.peers.size() == 3);
    CHECK(u.peers[0].remove);
    CHECK(u.peers[0].peer == nl::WgPeer{.public_key = k[0]});
    CHECK(u.peers[1].update_only);
    CHECK(u.peers[1].replace_allowed_ips);
    CHECK(u.peers[1].peer == peer(k[1], {"10.1.0.0/16"}, "[2001:db8::1]:4500", 25));
    CHECK_FALSE(u.peers[2].update_only);
    CHECK_FALSE(u.peers[2].replace_allowed_ips);
    CHECK(u.peers[2].peer == peer(k[2], {"10.2.0.0/16"}));
    CHECK_FALSE(needs_current_keepalive(ch));
}

TEST_CASE("a keepalive the change leaves alone comes from the observed device") {
    auto k = sorted_keys(2);
    nl::WgDevice observed{.ifname = "avwg0", .peers = {peer(k[0], {}, nullptr, 21)}};
    WgDeviceChange ch{.ifname = "avwg0"};
    ch.peers.push_back({.public_key = k[0], .update_only = true, .endpoint = ep("192.0.2.1:1")});
    ch.peers.push_back({.public_key = k[1]});
    CHECK(needs_current_keepalive(ch));
    nl::WgDeviceUpdate u = to_kernel(ch, std::nullopt, &observed);
    CHECK_FALSE(u.private_key);
    CHECK(u.peers[0].peer.keepalive_seconds == 21);
    CHECK(u.peers[1].peer.keepalive_seconds == 0);
}

TEST_CASE("from_kernel moves the public key into the device and converts stats") {
    nl::WgDeviceState st;
    st.device.ifname = "avwg0";
    st.device.peers.push_back(peer(random_public_key(), {"10.0.0.0/8"}));
    st.public_key = random_public_key();
    st.stats.push_back(nl::WgPeerStats{st.device.peers[0].public_key, 1700000000, 10, 20});
    std::string device_key = st.public_key;
    WgDeviceStatus out = from_kernel(st);
    CHECK(out.device.public_key == device_key);
    CHECK(out.device.peers == st.device.peers);
    REQUIRE(out.peers.size() == 1);
    CHECK(out.peers[0] == WgPeerStats{.public_key = st.device.peers[0].public_key, .last_handshake_sec = 1700000000,
                                      .rx_bytes = 10, .tx_bytes = 20});
}

TEST_CASE("set sends the delta as SET_DEVICE messages that read back to it") {
    Rig rig;
    TempDir dir;
    auto k = sorted_keys(300);
    WgDeviceChange ch{.ifname = "avwg0", .listen_port = 51820};
    for (const auto& key : k)
        ch.peers.push_back({.public_key = key, .keepalive_seconds = 25, .replace_allowed_ips = true,
                            .allowed_ips = {pfx("10.0.0.0/24"), pfx("fd00::/64")}});
    Status st = rig.backend->set(ch);
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    CHECK(rig.kernel.dumps == 0);  // every keepalive stated: no read first
    CHECK(rig.kernel.sets.size() > 1);  // 300 peers do not fit one message
    nl::WgDeviceState applied = rig.kernel.applied();
    CHECK(applied.device.ifname == "avwg0");
    CHECK(applied.device.listen_port == 51820);
    REQUIRE(applied.device.peers.size() == 300);
    CHECK(applied.device.peers[299] == peer(k[299], {"10.0.0.0/24", "fd00::/64"}, nullptr, 25));
}

TEST_CASE("set reads the device first when a keepalive is left alone") {
    Rig rig;
    auto k = sorted_keys(1);
    rig.kernel.device = nl::WgDevice{.ifname = "avwg0", .listen_port = 1, .peers = {peer(k[0], {"10.1.0.0/16"}, nullptr, 33)}};
    WgDeviceChange ch{.ifname = "avwg0"};
    ch.peers.push_back({.public_key = k[0], .update_only = true, .replace_allowed_ips = true,
                        .allowed_ips = {pfx("10.2.0.0/16")}});
    REQUIRE(rig.backend->set(ch).ok());
    CHECK(rig.kernel.dumps == 1);
    nl::WgDeviceState applied = rig.kernel.applied();
    REQUIRE(applied.device.peers.size() == 1);
    CHECK(applied.device.peers[0].keepalive_seconds == 33);
}

TEST_CASE("status and get read the device through the dump") {
    Rig rig;
    auto k = sorted_keys(2);
    rig.kernel.device = nl::WgDevice{.ifname = "avwg0", .listen_port = 51820,
                                     .peers = {peer(k[0], {"10.1.0.0/16"}, "192.0.2.1:51820", 25), peer(k[1], {"10.2.0.0/16"})}};
    auto got = rig.backend->get("avwg0");
    REQUIRE_MESSAGE(got.ok(), (got.ok() ? "" : got.error().str()));
    CHECK(*got == rig.kernel.device);
    auto st = rig.backend->status("avwg0");
    REQUIRE(st.ok());
    CHECK(st->peers.size() == 2);
    CHECK(rig.backend->name() == "kernel");
}

TEST_CASE("kernel errors and no-ops") {
    Rig rig;
    WgDeviceChange empty{.ifname = "avwg0"};
    CHECK(rig.backend->set(empty).ok());
    CHECK(rig.transport->sent.empty());

    rig.kernel.fail_with = ENODEV;
    WgDeviceChange ch{.ifname = "avwg0", .listen_port = 1};
    Status st = rig.backend->set(ch);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why.find("No such device") != std::string::npos);

    WgDeviceChange bad_key{.ifname = "avwg0", .private_key_ref = nl::KeyRef{.private_key_file = "/nonexistent/key"}};
    Status key_st = rig.backend->set(bad_key);
    REQUIRE_FALSE(key_st.ok());
    CHECK(key_st.error().what == "read private key");
}
