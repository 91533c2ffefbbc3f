// WG_CMD_GET_DEVICE: reading a device, merging peers split across messages.
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/time_types.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <numeric>

#include "netlink/genl.hpp"
#include "netlink/transact.hpp"
#include "netlink/wireguard.hpp"

namespace avpn::nl {

namespace {

Error bad(const std::string& why) { return Error{"parse wireguard device", "netlink message", why}; }

// sockaddr_in or sockaddr_in6: the family and port sit at the same offsets.
std::optional<Endpoint> parse_endpoint(const Attr& a) {
    sa_family_t fam;
    if (!a.read_prefix(fam)) return std::nullopt;
    bool v4 = fam == AF_INET && a.data.size() == sizeof(sockaddr_in);
    bool v6 = fam == AF_INET6 && a.data.size() == sizeof(sockaddr_in6);
    if (!v4 && !v6) return std::nullopt;
    Endpoint e;
    e.addr.family = v4 ? Family::v4 : Family::v6;
    size_t at = v4 ? offsetof(sockaddr_in, sin_addr) : offsetof(sockaddr_in6, sin6_addr);
    std::memcpy(e.addr.bytes.data(), a.data.data() + at, e.addr.size());
    uint16_t port;
    std::memcpy(&port, a.data.data() + offsetof(sockaddr_in, sin_port), sizeof port);
    e.port = ntohs(port);
    return e;
}

Result<Prefix> parse_allowed_ip(Bytes nest) {
    AttrTable<WGALLOWEDIP_A_MAX + 1> t{};
    if (!parse_attrs(nest, t)) return bad("malformed allowed IP");
    auto fam = inet_family(t[WGALLOWEDIP_A_FAMILY].u16().value_or(0));
    auto cidr = t[WGALLOWEDIP_A_CIDR_MASK].u8();
    auto addr = fam ? t[WGALLOWEDIP_A_IPADDR].addr(*fam) : std::nullopt;
    if (!cidr || !addr || *cidr > addr->max_len())
        return bad("allowed IP without a valid family, address or mask");
    return Prefix::make(*addr, *cidr);
}

Status parse_allowed_ips(Bytes nest, std::vector<Prefix>& out) {
    AttrReader r(nest);
    Attr a;
    while (r.next(a)) {
        auto p = parse_allowed_ip(a.data);
        if (!p) return p.error();
        out.push_back(*p);
    }
    return r.malformed() ? Status(bad("malformed allowed IPs")) : Status();
}

// One peer nest, merged into state (a continued peer extends the last one).
Status merge_peer(Bytes nest, WgDeviceState& s) {
    AttrTable<WGPEER_A_MAX + 1> t{};
    if (!parse_attrs(nest, t)) return bad("malformed peer");
    const Attr& key = t[WGPEER_A_PUBLIC_KEY];
    if (key.data.size() != 32) return bad("peer without a 32-byte public key");
    std::string pub = crypto::base64_encode(key.data.data(), key.data.size());
    if (s.device.peers.empty() || s.device.peers.back().public_key != pub) {
        s.device.peers.push_back(WgPeer{});
        s.device.peers.back().public_key = pub;
        s.stats.push_back(WgPeerStats{pub});
    }
    WgPeer& p = s.device.peers.back();
    WgPeerStats& st = s.stats.back();
    if (t[WGPEER_A_ENDPOINT].present) p.endpoint = parse_endpoint(t[WGPEER_A_ENDPOINT]);
    if (auto k = t[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL].u16()) p.keepalive_seconds = *k;
    if (__kernel_timespec ts; t[WGPEER_A_LAST_HANDSHAKE_TIME].read_prefix(ts)) st.last_handshake_seconds = ts.tv_sec;
    if (auto rx = t[WGPEER_A_RX_BYTES].u64()) st.rx_bytes = *rx;
    if (auto tx = t[WGPEER_A_TX_BYTES].u64()) st.tx_bytes = *tx;
    if (t[WGPEER_A_ALLOWEDIPS].present) return parse_allowed_ips(t[WGPEER_A_ALLOWEDIPS].data, p.allowed_ips);
    return {};
}

}  // namespace

Status merge_device_message(const nlmsghdr* h, WgDeviceState& s) {
    AttrTable<WGDEVICE_A_MAX + 1> t{};
    if (auto msg = read_message<genlmsghdr>(h, t, "parse wireguard device"); !msg) return msg.error();
    if (auto i = t[WGDEVICE_A_IFINDEX].u32()) s.ifindex = *i;
    if (auto n = t[WGDEVICE_A_IFNAME].str()) s.device.ifname = std::string(*n);
    if (auto p = t[WGDEVICE_A_LISTEN_PORT].u16()) s.device.listen_port = *p;
    if (auto m = t[WGDEVICE_A_FWMARK].u32()) s.device.fwmark = *m;
    if (const Attr& k = t[WGDEVICE_A_PUBLIC_KEY]; k.data.size() == 32)
        s.device.public_key = s.public_key = crypto::base64_encode(k.data.data(), k.data.size());
    // Sent to CAP_NET_ADMIN only; kept for the undo of a key change.
    if (const Attr& k = t[WGDEVICE_A_PRIVATE_KEY]; k.data.size() == 32)
        s.device.observed_private_key = ObservedKey(std::vector<uint8_t>(k.data.begin(), k.data.end()));
    if (!t[WGDEVICE_A_PEERS].present) return {};
    AttrReader r(t[WGDEVICE_A_PEERS].data);
    Attr peer;
    while (r.next(peer))
        if (auto st = merge_peer(peer.data, s); !st) return st;
    return r.malformed() ? Status(bad("malformed peer list")) : Status();
}

void finish_device(WgDeviceState& s) {
    auto& peers = s.device.peers;
    std::vector<size_t> order(peers.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return peers[a].public_key < peers[b].public_key; });
    std::vector<WgPeer> sorted_peers;
    std::vector<WgPeerStats> sorted_stats;
    for (size_t i : order) {
        sorted_peers.push_back(std::move(peers[i]));
        sorted_stats.push_back(std::move(s.stats[i]));
        std::sort(sorted_peers.back().allowed_ips.begin(), sorted_peers.back().allowed_ips.end());
    }
    peers = std::move(sorted_peers);
    s.stats = std::move(sorted_stats);
}

Result<WgDeviceState> get_device(Transport& genl, uint16_t family, std::string_view ifname) {
    WgDeviceState state;
    DumpRequest req;
    req.what = "get wireguard device";
    req.where = std::string(ifname);
    req.type = family;
    req.fill = [&](MsgWriter& w) {
        put_genl_header(w, family, WG_CMD_GET_DEVICE, WG_GENL_VERSION, w.header()->nlmsg_flags);
        w.put_str(WGDEVICE_A_IFNAME, ifname);
    };
    req.on_message = [&](const nlmsghdr* h) { return merge_device_message(h, state); };
    req.on_restart = [&] { state = WgDeviceState{}; };
    if (auto st = run_dump(genl, req); !st) return st.error();
    finish_device(state);
    return state;
}

}  // namespace avpn::nl
