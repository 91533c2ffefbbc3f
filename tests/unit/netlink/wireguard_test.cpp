// WireGuard generic netlink: the set encoder splits large devices as the
// kernel requires, and the reader merges them back to the same model.
#include <doctest/doctest.h>

#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include "netlink/wireguard.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::nl;

namespace {

constexpr uint16_t kFamily = 0x1d;

std::string key_of(uint32_t i) {
    crypto::Key32 k{};
    for (size_t b = 0; b < k.size(); ++b) k[b] = uint8_t((i * 131 + b * 7) ^ (i >> 8));
    k[0] = uint8_t(i);
    k[1] = uint8_t(i >> 8);
    return crypto::base64_encode(k.data(), k.size());
}

WgDevice device(size_t peers, size_t ips_per_peer) {
    WgDevice d;
    d.ifname = "avpn-corp";
    d.listen_port = 51820;
    d.fwmark = 0x4156;
    for (size_t i = 0; i < peers; ++i) {
        WgPeer p;
        p.public_key = key_of(uint32_t(i));
        if (i % 3 == 0) p.endpoint = Endpoint::parse("198.51.100." + std::to_string(i % 250 + 1) + ":51820");
        if (i % 3 == 1) p.endpoint = Endpoint::parse("[2001:db8::" + std::to_string(i % 250 + 1) + "]:51821");
        p.keepalive_seconds = i % 2 ? 25 : 0;
        for (size_t j = 0; j < ips_per_peer; ++j)
            p.allowed_ips.push_back(*Prefix::parse("10." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
                                                   "." + std::to_string(j * 4) + "/30"));
        if (i % 5 == 0) p.allowed_ips.push_back(*Prefix::parse("fd00:" + std::to_string(i) + "::/64"));
        std::sort(p.allowed_ips.begin(), p.allowed_ips.end());
        d.peers.push_back(std::move(p));
    }
    std::sort(d.peers.begin(), d.peers.end(), [](const WgPeer& a, const WgPeer& b) { return a.public_key < b.public_key; });
    return d;
}

crypto::Key32 private_key() {
    crypto::Key32 k{};
    k.fill(0x42);
    return k;
}

const nlmsghdr* hdr(const std::vector<uint8_t>& m) { return reinterpret_cast<const nlmsghdr*>(m.data()); }

AttrTable<WGDEVICE_A_MAX + 1> device_attrs(const std::vector<uint8_t>& m) {
    AttrTable<WGDEVICE_A_MAX + 1> t{};
    REQUIRE(parse_attrs(attrs_after(hdr(m), sizeof(genlmsghdr)), t));
    return t;
}

// Peer flags of every peer nest in one message, in order.
std::vector<uint32_t> peer_flags(const std::vector<uint8_t>& m) {
    std::vector<uint32_t> out;
    auto t = device_attrs(m);
    AttrReader r(t[WGDEVICE_A_PEERS].data);
    Attr peer;
    while (r.next(peer)) {
        AttrTable<WGPEER_A_MAX + 1> p{};
        REQUIRE(parse_attrs(peer.data, p));
        out.push_back(p[WGPEER_A_FLAGS].u32().value_or(0));
    }
    return out;
}

WgDeviceState merge_all(const WgMessages& msgs) {
    WgDeviceState s;
    for (const auto& m : msgs.parts) REQUIRE(merge_device_message(hdr(m), s));
    finish_device(s);
    return s;
}

}  // namespace

TEST_CASE("a small device is one message and reads back equal") {
    WgDevice d = device(3, 2);
    auto msgs = encode_set_device(full_replace(d, private_key()), kFamily);
    REQUIRE(msgs);
    REQUIRE(msgs->parts.size() == 1);
    const auto& m = msgs->parts[0];
    CHECK(hdr(m)->nlmsg_type == kFamily);
    auto t = device_attrs(m);
    CHECK(t[WGDEVICE_A_FLAGS].u32() == uint32_t(WGDEVICE_F_REPLACE_PEERS));
    CHECK(t[WGDEVICE_A_PRIVATE_KEY].data.size() == 32);
    for (uint32_t f : peer_flags(m)) CHECK(f == uint32_t(WGPEER_F_REPLACE_ALLOWEDIPS));
    CHECK(merge_all(*msgs).device == d);
}

TEST_CASE("a 1,000-peer device splits into several messages and merges back equal") {
    WgDevice d = device(1000, 3);
    auto msgs = encode_set_device(full_replace(d, private_key()), kFamily, 8192);
    REQUIRE(msgs);
    CHECK(msgs->parts.size() > 5);
    for (size_t i = 0; i < msgs->parts.size(); ++i) {
        const auto& m = msgs->parts[i];
        CHECK(m.size() <= 8192);
        auto t = device_attrs(m);
        CHECK(t[WGDEVICE_A_IFNAME].str() == "avpn-corp");  // every part names the device
        // Only the first part may replace the peer list or carry the key.
        CHECK(t[WGDEVICE_A_FLAGS].present == (i == 0));
        CHECK(t[WGDEVICE_A_PRIVATE_KEY].present == (i == 0));
        CHECK(t[WGDEVICE_A_LISTEN_PORT].present == (i == 0));
    }
    WgDeviceState back = merge_all(*msgs);
    CHECK(back.device.peers.size() == 1000);
    CHECK(back.device == d);
}

TEST_CASE("one peer's allowed IPs continue in the next message without replacing again") {
    WgDevice d = device(1, 2000);
    WgDeviceUpdate u = full_replace(d, private_key());
    u.peers[0].update_only = true;
    auto msgs = encode_set_device(u, kFamily, 4096);
    REQUIRE(msgs);
    REQUIRE(msgs->parts.size() > 3);
    auto first = peer_flags(msgs->parts[0]);
    REQUIRE(first.size() == 1);
    CHECK(first[0] == uint32_t(WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY));
    for (size_t i = 1; i < msgs->parts.size(); ++i) {
        auto flags = peer_flags(msgs->parts[i]);
        REQUIRE(flags.size() == 1);
        CHECK(flags[0] == uint32_t(WGPEER_F_UPDATE_ONLY));  // kept: a continued peer is never created
    }
    WgDeviceState back = merge_all(*msgs);
    REQUIRE(back.device.peers.size() == 1);
    CHECK(back.device.peers[0].allowed_ips == d.peers[0].allowed_ips);
}

TEST_CASE("incremental updates carry their peer flags") {
    WgDeviceUpdate u;
    u.ifname = "avpn-corp";
    WgPeerUpdate gone;
    gone.peer.public_key = key_of(1);
    gone.peer.allowed_ips.push_back(*Prefix::parse("10.0.0.0/24"));
    gone.remove = true;
    WgPeerUpdate changed;
    changed.peer.public_key = key_of(2);
    changed.peer.allowed_ips.push_back(*Prefix::parse("10.0.1.0/24"));
    u.peers = {gone, changed};
    auto msgs = encode_set_device(u, kFamily);
    REQUIRE(msgs);
    REQUIRE(msgs->parts.size() == 1);
    auto t = device_attrs(msgs->parts[0]);
    CHECK_FALSE(t[WGDEVICE_A_FLAGS].present);
    CHECK_FALSE(t[WGDEVICE_A_PRIVATE_KEY].present);
    CHECK(peer_flags(msgs->parts[0]) == std::vector<uint32_t>{WGPEER_F_REMOVE_ME, 0});
    WgDeviceState back = merge_all(*msgs);
    REQUIRE(back.device.peers.size() == 2);
    CHECK(back.device.peers[0].allowed_ips.empty() != back.device.peers[1].allowed_ips.empty());
}

TEST_CASE("a peer that cannot fit an empty message is an error, not a loop") {
    WgDevice d = device(1, 1);
    auto msgs = encode_set_device(full_replace(d, private_key()), kFamily, 120);  // device head fits, the peer not
    REQUIRE_FALSE(msgs);
    CHECK(msgs.error().why.find("does not fit") != std::string::npos);
}

TEST_CASE("a peer key that is not base64 of 32 bytes is refused") {
    WgDeviceUpdate u;
    u.ifname = "avpn-corp";
    u.peers.push_back(WgPeerUpdate{});
    u.peers[0].peer.public_key = "not-a-key";
    auto msgs = encode_set_device(u, kFamily);
    REQUIRE_FALSE(msgs);
    CHECK(msgs.error().why.find("not-a-key") != std::string::npos);
}

TEST_CASE("get_device merges a dump whose peer spans two messages, stats included") {
    WgDevice d = device(1, 600);
    auto parts = encode_set_device(full_replace(d, private_key()), kFamily, 4096);
    REQUIRE(parts);
    REQUIRE(parts->parts.size() >= 2);
    test::FakeTransport t(NETLINK_GENERIC);
    t.kernel = [&](Bytes req) {
        const nlmsghdr* h = test::messages(req)[0];
        CHECK((h->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
        test::Datagrams out;
        for (auto m : parts->parts) {
            auto* mh = reinterpret_cast<nlmsghdr*>(m.data());
            mh->nlmsg_seq = h->nlmsg_seq;
            mh->nlmsg_flags = NLM_F_MULTI;
            out.push_back(m);
        }
        out.push_back(test::done(h->nlmsg_seq));
        return out;
    };
    auto state = get_device(t, kFamily, "avpn-corp");
    REQUIRE(state);
    CHECK(state->device == d);
    REQUIRE(state->stats.size() == 1);
    CHECK(state->stats[0].public_key == d.peers[0].public_key);
}

TEST_CASE("a malformed allowed IP fails the device parse") {
    WgDevice d = device(1, 1);
    auto msgs = encode_set_device(full_replace(d, private_key()), kFamily);
    REQUIRE(msgs);
    auto m = msgs->parts[0];
    // Turn the peer's only allowed IP's mask into 40 (an IPv4 /40).
    auto* h = reinterpret_cast<nlmsghdr*>(m.data());
    auto t = device_attrs(m);
    AttrReader peers(t[WGDEVICE_A_PEERS].data);
    Attr peer;
    REQUIRE(peers.next(peer));
    AttrTable<WGPEER_A_MAX + 1> p{};
    REQUIRE(parse_attrs(peer.data, p));
    AttrReader ips(p[WGPEER_A_ALLOWEDIPS].data);
    Attr ip;
    REQUIRE(ips.next(ip));
    AttrTable<WGALLOWEDIP_A_MAX + 1> a{};
    REQUIRE(parse_attrs(ip.data, a));
    const_cast<uint8_t&>(a[WGALLOWEDIP_A_CIDR_MASK].data[0]) = 40;
    WgDeviceState s;
    CHECK_FALSE(merge_device_message(h, s));
}
