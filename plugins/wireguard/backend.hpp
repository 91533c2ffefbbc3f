// The WireGuard device seam: one device model (nl::WgDevice), two IPC
// backends behind one interface, as wireguard-tools does. The kernel backend
// speaks generic netlink; the userspace backend speaks the cross-platform
// UAPI text protocol on /var/run/wireguard/<ifname>.sock (wireguard-go).
//
// Reading gives the observed device (never its private key); writing applies
// a delta (WgDeviceChange), normally produced by diff(desired, observed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/ip.hpp"
#include "common/result.hpp"
#include "netlink/objects.hpp"

namespace avpn::wg {

// 32 secret bytes that are wiped when the holder goes away (copies too).
class SecretKey {
public:
    SecretKey() = default;
    explicit SecretKey(const crypto::Key32& bytes) : bytes_(bytes) {}
    SecretKey(const SecretKey&) = default;
    SecretKey& operator=(const SecretKey&) = default;
    SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) { other.wipe(); }
    SecretKey& operator=(SecretKey&& other) noexcept {
        bytes_ = other.bytes_;
        other.wipe();
        return *this;
    }
    ~SecretKey() { wipe(); }

    const crypto::Key32& bytes() const { return bytes_; }
    void wipe() { crypto::wipe(bytes_.data(), bytes_.size()); }

private:
    crypto::Key32 bytes_{};
};

// One peer's part of a delta. An upsert carries only what changes.
struct WgPeerChange {
    std::string public_key;  // base64, as in the model
    bool remove = false;     // remove the peer; every other field is ignored
    bool update_only = false;  // change the peer only if it exists already
    std::optional<Endpoint> endpoint;
    std::optional<uint16_t> keepalive_seconds;  // 0 turns keepalive off
    bool replace_allowed_ips = false;  // drop the old list before adding these
    std::vector<Prefix> allowed_ips;   // added (or the whole list when replacing)

    bool operator==(const WgPeerChange&) const = default;
};

// A delta to one device. Fields left empty are not touched.
struct WgDeviceChange {
    std::string ifname;
    // A new device key: the bytes, or the file they are read from at apply
    // time (diff() only knows the file). The bytes win when both are set.
    std::optional<SecretKey> private_key;
    std::optional<nl::KeyRef> private_key_ref;
    std::optional<uint16_t> listen_port;
    std::optional<uint32_t> fwmark;   // 0 turns the mark off
    bool replace_peers = false;       // remove every peer not listed below
    std::vector<WgPeerChange> peers;  // sorted by public key

    bool empty() const {
        return !private_key && !private_key_ref && !listen_port && !fwmark && !replace_peers &&
               peers.empty();
    }
};

// Runtime figures the model does not hold (status, metrics).
struct WgPeerStats {
    std::string public_key;  // base64
    int64_t last_handshake_sec = 0;  // 0: never
    int64_t last_handshake_nsec = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;
    bool operator==(const WgPeerStats&) const = default;
};

struct WgDeviceStatus {
    nl::WgDevice device;             // observed: public_key set, no private key
    std::vector<WgPeerStats> peers;  // sorted by public key
};

class WgBackend {
public:
    virtual ~WgBackend() = default;
    virtual std::string_view name() const = 0;  // "kernel" | "userspace"
    // The observed device (no private key).
    virtual Result<nl::WgDevice> get(const std::string& ifname) = 0;
    // The observed device plus per-peer counters.
    virtual Result<WgDeviceStatus> status(const std::string& ifname) = 0;
    // Applies a delta.
    virtual Status set(const WgDeviceChange& change) = 0;

protected:
    // get() of a backend whose every read brings the stats along anyway.
    Result<nl::WgDevice> device_of_status(const std::string& ifname) {
        auto st = status(ifname);
        if (!st) return st.error();
        return std::move(st->device);
    }
};

// The syncconf-style delta from observed to desired: peers only observed are
// removed, new peers added, changed peers updated (allowed IPs replaced as a
// whole), equal peers left alone. The device key is compared by its public
// half; when it differs the change names the key file (private_key_ref).
// A desired listen_port of 0 means "any" and never causes a change; a desired
// peer without endpoint keeps whatever endpoint the peer roamed to. Added and
// updated peers always state their keepalive (the kernel's netlink set sends
// one with every peer, so leaving it out would cost the kernel backend a read).
WgDeviceChange diff(const nl::WgDevice& desired, const nl::WgDevice& observed);

// Every peer of `desired`, replacing whatever the device holds (setconf).
WgDeviceChange full_config(const nl::WgDevice& desired);

}  // namespace avpn::wg
