#include "plugins/wireguard/kernel.hpp"

#include <linux/netlink.h>

#include <algorithm>

#include "netlink/genl.hpp"
#include "plugins/wireguard/keys.hpp"
#include "plugins/wireguard/select.hpp"

namespace avpn::wg {

namespace {

uint16_t current_keepalive(const nl::WgDevice* observed, const std::string& public_key) {
    if (!observed) return 0;
    const auto& peers = observed->peers;  // sorted by key
    auto it = std::lower_bound(peers.begin(), peers.end(), public_key,
                               [](const nl::WgPeer& p, const std::string& k) { return p.public_key < k; });
    return it != peers.end() && it->public_key == public_key ? it->keepalive_seconds : 0;
}

nl::WgPeerUpdate peer_update(const WgPeerChange& c, const nl::WgDevice* observed) {
    nl::WgPeerUpdate u;
    u.peer.public_key = c.public_key;
    u.remove = c.remove;
    if (c.remove) return u;
    u.update_only = c.update_only;
    u.replace_allowed_ips = c.replace_allowed_ips;
    u.peer.endpoint = c.endpoint;
    u.peer.keepalive_seconds = c.keepalive_seconds ? *c.keepalive_seconds : current_keepalive(observed, c.public_key);
    u.peer.allowed_ips = c.allowed_ips;
    return u;
}

}  // namespace

WgDeviceStatus from_kernel(nl::WgDeviceState state) {
    WgDeviceStatus out;
    out.device = std::move(state.device);
    out.device.public_key = std::move(state.public_key);
    out.peers.reserve(state.stats.size());
    for (auto& s : state.stats)
        out.peers.push_back(WgPeerStats{.public_key = std::move(s.public_key),
                                        .last_handshake_sec = s.last_handshake_seconds,
                                        .rx_bytes = s.rx_bytes,
                                        .tx_bytes = s.tx_bytes});
    return out;
}

bool needs_current_keepalive(const WgDeviceChange& change) {
    return std::any_of(change.peers.begin(), change.peers.end(),
                       [](const WgPeerChange& p) { return !p.remove && !p.keepalive_seconds; });
}

nl::WgDeviceUpdate to_kernel(const WgDeviceChange& change, const std::optional<SecretKey>& private_key,
                             const nl::WgDevice* observed) {
    nl::WgDeviceUpdate u;
    u.ifname = change.ifname;
    if (private_key) u.private_key = private_key->bytes();
    u.listen_port = change.listen_port;
    u.fwmark = change.fwmark;
    u.replace_peers = change.replace_peers;
    u.peers.reserve(change.peers.size());
    for (const WgPeerChange& c : change.peers) u.peers.push_back(peer_update(c, observed));
    return u;
}

Result<std::unique_ptr<KernelBackend>> KernelBackend::open(const nl::SocketOptions& options) {
    auto sock = nl::Socket::open(NETLINK_GENERIC, options);
    if (!sock) return sock.error();
    auto family = nl::resolve_family(*sock, "wireguard");
    if (!family) {
        Error e = family.error();
        e.why += " (is the wireguard kernel module loaded? otherwise choose the userspace backend)";
        return e;
    }
    return std::make_unique<KernelBackend>(std::make_unique<nl::Socket>(std::move(*sock)), *family);
}

Result<std::unique_ptr<WgBackend>> make_kernel_backend() {
    auto b = KernelBackend::open();
    if (!b) return b.error();
    return std::unique_ptr<WgBackend>(std::move(*b));
}

Result<WgDeviceStatus> KernelBackend::status(const std::string& ifname) {
    auto state = nl::get_device(*genl_, family_, ifname);
    if (!state) return state.error();
    return from_kernel(std::move(*state));
}

Result<nl::WgDevice> KernelBackend::get(const std::string& ifname) { return device_of_status(ifname); }

Status KernelBackend::set(const WgDeviceChange& change) {
    if (change.empty()) return {};  // a no-op apply writes nothing
    auto key = resolve_private_key(change);
    if (!key) return key.error();
    std::optional<nl::WgDevice> observed;
    if (needs_current_keepalive(change)) {
        auto got = get(change.ifname);
        if (!got) return got.error();
        observed = std::move(*got);
    }
    nl::WgDeviceUpdate update = to_kernel(change, *key, observed ? &*observed : nullptr);
    Status st = nl::set_device(*genl_, family_, update);
    if (update.private_key) crypto::wipe(update.private_key->data(), update.private_key->size());
    return st;
}

}  // namespace avpn::wg
