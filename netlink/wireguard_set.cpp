// WG_CMD_SET_DEVICE: encoding an update, split across messages when needed.
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <cstddef>

#include "netlink/batch.hpp"
#include "netlink/genl.hpp"
#include "netlink/wireguard.hpp"

namespace avpn::nl {

namespace {

uint32_t head_flags(const WgPeerUpdate& p) {
    return (p.remove ? WGPEER_F_REMOVE_ME : 0) | (p.replace_allowed_ips ? WGPEER_F_REPLACE_ALLOWEDIPS : 0) |
           (p.update_only ? WGPEER_F_UPDATE_ONLY : 0);
}

// A continued peer must neither wipe what the previous part added nor
// spring into existence when it was update-only.
uint32_t continuation_flags(const WgPeerUpdate& p) {
    return (p.remove ? WGPEER_F_REMOVE_ME : 0) | (p.update_only ? WGPEER_F_UPDATE_ONLY : 0);
}

// sockaddr_in or sockaddr_in6: the family and port sit at the same offsets.
bool put_endpoint(MsgWriter& w, const Endpoint& e) {
    bool v4 = e.addr.family == Family::v4;
    sockaddr_in6 sa{};  // large enough for either
    auto* raw = reinterpret_cast<uint8_t*>(&sa);
    sa_family_t fam = v4 ? AF_INET : AF_INET6;
    uint16_t port = htons(e.port);
    std::memcpy(raw, &fam, sizeof fam);
    std::memcpy(raw + offsetof(sockaddr_in, sin_port), &port, sizeof port);
    std::memcpy(raw + (v4 ? offsetof(sockaddr_in, sin_addr) : offsetof(sockaddr_in6, sin6_addr)), e.addr.bytes.data(),
                e.addr.size());
    return w.put(WGPEER_A_ENDPOINT, raw, v4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
}

bool put_allowed_ip(MsgWriter& w, const Prefix& p) {
    auto one = w.begin_nest(0);
    if (!one) return false;
    if (w.put_u16(WGALLOWEDIP_A_FAMILY, uint16_t(p.addr.af())) && w.put_addr(WGALLOWEDIP_A_IPADDR, p.addr) &&
        w.put_u8(WGALLOWEDIP_A_CIDR_MASK, p.len))
        return w.end_nest(*one);
    w.cancel_nest(*one);
    return false;
}

// Walks the update, one message at a time, remembering where it stopped.
class SetEncoder {
public:
    SetEncoder(const WgDeviceUpdate& u, std::vector<crypto::Key32> keys, uint16_t family)
        : u_(u), keys_(std::move(keys)), family_(family) {}

    bool done() const { return !first_ && peer_ == u_.peers.size(); }

    Status next(MsgWriter& w) {
        put_genl_header(w, family_, WG_CMD_SET_DEVICE, WG_GENL_VERSION, NLM_F_REQUEST | NLM_F_ACK);
        w.put_str(WGDEVICE_A_IFNAME, u_.ifname);
        if (first_) put_device_head(w);
        if (w.full()) return Error{"encode wireguard device", u_.ifname, "device attributes do not fit one message"};
        first_ = false;
        if (peer_ == u_.peers.size()) return {};
        auto before = position();
        if (auto peers = w.begin_nest(WGDEVICE_A_PEERS)) {
            while (peer_ < u_.peers.size() && put_peer(w)) {
                ++peer_;
                aip_ = 0;
                head_sent_ = false;
            }
            w.end_nest(*peers);
        }
        if (position() == before)
            return Error{"encode wireguard device", u_.ifname,
                         "peer " + u_.peers[peer_].peer.public_key + " does not fit an empty message"};
        return {};
    }

private:
    std::tuple<size_t, size_t, bool> position() const { return {peer_, aip_, head_sent_}; }

    void put_device_head(MsgWriter& w) {
        if (u_.private_key) w.put(WGDEVICE_A_PRIVATE_KEY, u_.private_key->data(), u_.private_key->size());
        if (u_.listen_port) w.put_u16(WGDEVICE_A_LISTEN_PORT, *u_.listen_port);
        if (u_.fwmark) w.put_u32(WGDEVICE_A_FWMARK, *u_.fwmark);
        if (u_.replace_peers) w.put_u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
    }

    bool put_peer_head(MsgWriter& w, const WgPeerUpdate& p) {
        if (head_sent_) {
            uint32_t f = continuation_flags(p);
            return !f || w.put_u32(WGPEER_A_FLAGS, f);
        }
        if (uint32_t f = head_flags(p); f && !w.put_u32(WGPEER_A_FLAGS, f)) return false;
        if (p.remove) return true;
        if (p.peer.endpoint && !put_endpoint(w, *p.peer.endpoint)) return false;
        return w.put_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p.peer.keepalive_seconds);
    }

    // true: the whole peer is in; false: the message is full (what fit stays).
    bool put_peer(MsgWriter& w) {
        const WgPeerUpdate& p = u_.peers[peer_];
        auto nest = w.begin_nest(0);
        if (!nest) return false;
        if (!w.put(WGPEER_A_PUBLIC_KEY, keys_[peer_].data(), keys_[peer_].size()) || !put_peer_head(w, p)) {
            w.cancel_nest(*nest);
            return false;
        }
        head_sent_ = true;
        bool complete = p.remove || put_allowed_ips(w, p.peer.allowed_ips);
        w.end_nest(*nest);
        return complete;
    }

    bool put_allowed_ips(MsgWriter& w, const std::vector<Prefix>& ips) {
        if (aip_ == ips.size()) return true;
        auto nest = w.begin_nest(WGPEER_A_ALLOWEDIPS);
        if (!nest) return false;
        size_t start = aip_;
        while (aip_ < ips.size() && put_allowed_ip(w, ips[aip_])) ++aip_;
        if (aip_ == start) w.cancel_nest(*nest);
        else w.end_nest(*nest);
        return aip_ == ips.size();
    }

    const WgDeviceUpdate& u_;
    std::vector<crypto::Key32> keys_;  // decoded public keys, by peer
    uint16_t family_;
    bool first_ = true;
    size_t peer_ = 0;
    size_t aip_ = 0;
    bool head_sent_ = false;
};

Result<std::vector<crypto::Key32>> decode_keys(const WgDeviceUpdate& u) {
    std::vector<crypto::Key32> keys;
    keys.reserve(u.peers.size());
    for (const auto& p : u.peers) {
        auto k = crypto::base64_decode_key(p.peer.public_key);
        if (!k) return Error{"encode wireguard device", u.ifname, "peer public key '" + p.peer.public_key + "': " + k.error().why};
        keys.push_back(*k);
    }
    return keys;
}

}  // namespace

WgMessages::~WgMessages() {
    for (auto& p : parts) crypto::wipe(p.data(), p.size());
}

WgDeviceUpdate full_replace(const WgDevice& d, const crypto::Key32& private_key) {
    WgDeviceUpdate u;
    u.ifname = d.ifname;
    u.private_key = private_key;
    u.listen_port = d.listen_port;
    u.fwmark = d.fwmark;
    u.replace_peers = true;
    for (const auto& p : d.peers) u.peers.push_back(WgPeerUpdate{p, false, true, false});
    return u;
}

Result<WgMessages> encode_set_device(const WgDeviceUpdate& u, uint16_t family, size_t capacity) {
    auto keys = decode_keys(u);
    if (!keys) return keys.error();
    SetEncoder enc(u, std::move(*keys), family);
    WgMessages out;
    std::vector<uint8_t> buf(capacity);  // operator new's alignment suits nlmsghdr
    uint8_t* at = buf.data();
    while (!enc.done()) {
        MsgWriter w(at, capacity, 0, 0);
        if (auto st = enc.next(w); !st) {
            crypto::wipe(buf.data(), buf.size());
            return st.error();
        }
        out.parts.emplace_back(w.bytes().begin(), w.bytes().end());
    }
    crypto::wipe(buf.data(), buf.size());  // cancelled nests leave bytes past the message end
    return out;
}

Status set_device(Transport& genl, uint16_t family, const WgDeviceUpdate& u) {
    auto msgs = encode_set_device(u, family);
    if (!msgs) return msgs.error();
    Batch b(genl);
    for (size_t i = 0; i < msgs->parts.size(); ++i)
        if (auto st = b.add_message(i, Bytes(msgs->parts[i].data(), msgs->parts[i].size())); !st) return st;
    BatchResult res = b.commit();
    for (size_t i = 0; i < res.ops.size(); ++i)
        if (!res.ops[i].status)
            return Error{"set wireguard device",
                         u.ifname + " (message " + std::to_string(i + 1) + " of " + std::to_string(res.ops.size()) + ")",
                         res.ops[i].status.error().why, res.ops[i].status.error().code};
    return {};
}

}  // namespace avpn::nl
