// diff(): the explicit syncconf-style delta. Both peer lists are sorted by
// public key (callers' order is not trusted) and merged in one pass, so a
// 10,000-peer device diffs in O(n log n).
#include <algorithm>

#include "plugins/wireguard/backend.hpp"

namespace avpn::wg {

namespace {

using PeerRefs = std::vector<const nl::WgPeer*>;

PeerRefs sorted_by_key(const std::vector<nl::WgPeer>& peers) {
    PeerRefs refs;
    refs.reserve(peers.size());
    for (const auto& p : peers) refs.push_back(&p);
    std::sort(refs.begin(), refs.end(),
              [](const nl::WgPeer* a, const nl::WgPeer* b) { return a->public_key < b->public_key; });
    return refs;
}

std::vector<Prefix> sorted(std::vector<Prefix> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

WgPeerChange add_peer(const nl::WgPeer& want) {
    WgPeerChange c;
    c.public_key = want.public_key;
    c.endpoint = want.endpoint;
    c.keepalive_seconds = want.keepalive_seconds;
    c.replace_allowed_ips = true;
    c.allowed_ips = sorted(want.allowed_ips);
    return c;
}

WgPeerChange remove_peer(const nl::WgPeer& have) {
    WgPeerChange c;
    c.public_key = have.public_key;
    c.remove = true;
    return c;
}

// Only what differs; nullopt when the peer is already as wanted.
std::optional<WgPeerChange> update_peer(const nl::WgPeer& want, const nl::WgPeer& have) {
    WgPeerChange c;
    c.public_key = want.public_key;
    c.update_only = true;
    c.keepalive_seconds = want.keepalive_seconds;  // stated even when unchanged (see header)
    bool changed = want.keepalive_seconds != have.keepalive_seconds;
    if (want.endpoint && want.endpoint != have.endpoint) {
        c.endpoint = want.endpoint;
        changed = true;
    }
    auto want_ips = sorted(want.allowed_ips);
    if (want_ips != sorted(have.allowed_ips)) {
        c.replace_allowed_ips = true;
        c.allowed_ips = std::move(want_ips);
        changed = true;
    }
    if (!changed) return std::nullopt;
    return c;
}

void diff_peers(const nl::WgDevice& desired, const nl::WgDevice& observed, WgDeviceChange& out) {
    PeerRefs want = sorted_by_key(desired.peers);
    PeerRefs have = sorted_by_key(observed.peers);
    size_t i = 0, j = 0;
    while (i < want.size() || j < have.size()) {
        if (j == have.size() || (i < want.size() && want[i]->public_key < have[j]->public_key)) {
            out.peers.push_back(add_peer(*want[i++]));
        } else if (i == want.size() || have[j]->public_key < want[i]->public_key) {
            out.peers.push_back(remove_peer(*have[j++]));
        } else {
            if (auto c = update_peer(*want[i], *have[j])) out.peers.push_back(std::move(*c));
            ++i;
            ++j;
        }
    }
}

}  // namespace

WgDeviceChange diff(const nl::WgDevice& desired, const nl::WgDevice& observed) {
    WgDeviceChange out;
    out.ifname = desired.ifname;
    if (!desired.private_key.private_key_file.empty() && desired.public_key != observed.public_key)
        out.private_key_ref = desired.private_key;
    // An undo: the device goes back to the key it was observed with.
    else if (desired.private_key.private_key_file.empty() && desired.observed_private_key.bytes().size() == 32 &&
             desired.public_key != observed.public_key) {
        crypto::Key32 k;
        std::copy(desired.observed_private_key.bytes().begin(), desired.observed_private_key.bytes().end(), k.begin());
        out.private_key = SecretKey(k);
        crypto::wipe(k.data(), k.size());
    }
    if (desired.listen_port != 0 && desired.listen_port != observed.listen_port)
        out.listen_port = desired.listen_port;
    if (desired.fwmark != observed.fwmark) out.fwmark = desired.fwmark;
    diff_peers(desired, observed, out);
    return out;
}

WgDeviceChange full_config(const nl::WgDevice& desired) {
    WgDeviceChange out;
    out.ifname = desired.ifname;
    if (!desired.private_key.private_key_file.empty()) out.private_key_ref = desired.private_key;
    if (desired.listen_port != 0) out.listen_port = desired.listen_port;
    out.fwmark = desired.fwmark;
    out.replace_peers = true;
    for (const nl::WgPeer* p : sorted_by_key(desired.peers)) out.peers.push_back(add_peer(*p));
    return out;
}

}  // namespace avpn::wg
