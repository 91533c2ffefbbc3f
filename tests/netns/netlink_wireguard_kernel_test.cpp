// Kernel WireGuard over generic netlink. This machine has no wireguard
// module: the binary skips (77) saying so, and runs in the VM tier, whose
// kernel has it.
#include "tests/netns/netlink_fixture.hpp"

#include <cstdlib>

#include "netlink/genl.hpp"
#include "netlink/wireguard.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

void skip_without_wireguard() {
    skip_unless("ip link add avpn-wgprobe type wireguard", "ip link del avpn-wgprobe", "no kernel WireGuard here");
}

crypto::Key32 key() {
    auto k = crypto::generate_private_key();
    REQUIRE(k);
    return *k;
}

std::string public_b64(const crypto::Key32& priv) {
    auto pub = crypto::public_key(priv);
    REQUIRE(pub);
    return crypto::base64_encode(pub->data(), pub->size());
}

WgDevice device(const std::string& name, size_t peers) {
    WgDevice d;
    d.ifname = name;
    d.listen_port = 51820;
    d.fwmark = 0x4156;
    for (size_t i = 0; i < peers; ++i) {
        WgPeer p;
        p.public_key = public_b64(key());
        if (i % 2 == 0) p.endpoint = Endpoint::parse("198.51.100." + std::to_string(i % 200 + 1) + ":51820");
        p.keepalive_seconds = i % 3 == 0 ? 25 : 0;
        for (int j = 0; j < 3; ++j)
            p.allowed_ips.push_back(*Prefix::parse("10." + std::to_string(i / 200) + "." + std::to_string(i % 200) +
                                                   "." + std::to_string(j * 16) + "/28"));
        d.peers.push_back(std::move(p));
    }
    std::sort(d.peers.begin(), d.peers.end(), [](const WgPeer& a, const WgPeer& b) { return a.public_key < b.public_key; });
    return d;
}

struct Wg {
    Socket rt = open_socket(NETLINK_ROUTE);
    Socket genl = open_socket(NETLINK_GENERIC);
    uint16_t family = 0;

    explicit Wg(const std::string& name) {
        Link l;
        l.name = name;
        REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_create(w, l, 0); }));
        auto f = resolve_family(genl, "wireguard");
        REQUIRE(f);
        family = *f;
    }
};

}  // namespace

TEST_CASE("a wireguard link is created, configured, read back equal and deleted") {
    skip_without_wireguard();
    Wg wg("avpn-wg0");
    crypto::Key32 priv = key();
    WgDevice d = device("avpn-wg0", 3);
    d.public_key = public_b64(priv);
    REQUIRE(set_device(wg.genl, wg.family, full_replace(d, priv)));
    auto got = get_device(wg.genl, wg.family, "avpn-wg0");
    REQUIRE(got);
    CHECK(got->device == d);
    CHECK(got->public_key == public_b64(priv));
    CHECK(got->stats.size() == 3);

    auto links = dump_links(wg.rt);
    REQUIRE(links);
    auto it = std::find_if(links->begin(), links->end(), [](const LinkState& l) { return l.name == "avpn-wg0"; });
    REQUIRE(it != links->end());
    auto model = to_model(*it, LinkIndex(*links));
    REQUIRE(model);
    CHECK(model->kind == LinkKind::wireguard);

    // Incremental: one peer removed, another's allowed IPs replaced.
    WgDeviceUpdate u;
    u.ifname = "avpn-wg0";
    u.peers.push_back(WgPeerUpdate{d.peers[0], true, false, false});
    WgPeer changed = d.peers[1];
    changed.allowed_ips = {*Prefix::parse("172.16.0.0/12")};
    u.peers.push_back(WgPeerUpdate{changed, false, true, true});
    REQUIRE(set_device(wg.genl, wg.family, u));
    got = get_device(wg.genl, wg.family, "avpn-wg0");
    REQUIRE(got);
    WgDevice want = d;
    want.peers.erase(want.peers.begin());
    want.peers[0] = changed;
    CHECK(got->device == want);

    REQUIRE(apply(wg.rt, [&](MsgWriter& w) { return encode_link_delete(w, "avpn-wg0"); }));
    CHECK_FALSE(get_device(wg.genl, wg.family, "avpn-wg0"));
}

TEST_CASE("1,000 peers go in split messages and come back in a split dump, equal") {
    skip_without_wireguard();
    Wg wg("avpn-wg1");
    WgDevice d = device("avpn-wg1", 1000);
    crypto::Key32 priv = key();
    d.public_key = public_b64(priv);
    REQUIRE(set_device(wg.genl, wg.family, full_replace(d, priv)));
    auto got = get_device(wg.genl, wg.family, "avpn-wg1");
    REQUIRE(got);
    CHECK(got->device.peers.size() == 1000);
    CHECK(got->device == d);
}
