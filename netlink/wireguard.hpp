// WireGuard over generic netlink (family "wireguard"): read a device into the
// model, and write full or incremental updates.
//
// A device's peers may not fit one message either way. Reading: the kernel
// spreads them (and one peer's allowed IPs) over several messages of a dump;
// merge_device_message() joins a peer continued from the previous message.
// Writing: encode_set_device() fills a message until an append does not fit,
// closes the open nests, and continues the remaining peers / allowed IPs in a
// new message that repeats the device name. Flags that would undo the
// previous part (REPLACE_PEERS, REPLACE_ALLOWEDIPS) go only with the first
// appearance; UPDATE_ONLY and REMOVE_ME are repeated, so a continued peer is
// never created by accident.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

inline constexpr size_t kWgMessageBytes = 32 * 1024;  // well below nla_len's 64 KiB nest limit

struct WgPeerStats {
    std::string public_key;             // base64, as in WgPeer
    int64_t last_handshake_seconds = 0; // unix time; 0: never
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;
};

// What GET_DEVICE reports: the model's device and what only the kernel knows.
struct WgDeviceState {
    WgDevice device;  // private_key left empty; peers sorted by key, allowed IPs sorted
    uint32_t ifindex = 0;
    std::string public_key;          // = device.public_key; "" when the device has no private key
    std::vector<WgPeerStats> stats;  // parallel to device.peers
};

struct WgPeerUpdate {
    WgPeer peer;
    bool remove = false;               // WGPEER_F_REMOVE_ME
    bool replace_allowed_ips = false;  // WGPEER_F_REPLACE_ALLOWEDIPS
    bool update_only = false;          // WGPEER_F_UPDATE_ONLY: change, never create
};

// The caller owns private_key and wipes it when done.
struct WgDeviceUpdate {
    std::string ifname;
    std::optional<crypto::Key32> private_key;
    std::optional<uint16_t> listen_port;
    std::optional<uint32_t> fwmark;
    bool replace_peers = false;  // WGDEVICE_F_REPLACE_PEERS
    std::vector<WgPeerUpdate> peers;
};

// Makes the kernel's device equal to d: every peer replaced, allowed IPs too.
WgDeviceUpdate full_replace(const WgDevice& d, const crypto::Key32& private_key);

// The messages of one update, in order; wiped on destruction (the first
// carries the private key).
struct WgMessages {
    std::vector<std::vector<uint8_t>> parts;
    WgMessages() = default;
    WgMessages(WgMessages&&) = default;
    WgMessages& operator=(WgMessages&&) = default;
    ~WgMessages();
};

Result<WgMessages> encode_set_device(const WgDeviceUpdate& u, uint16_t family, size_t capacity = kWgMessageBytes);

// Merges one GET_DEVICE reply (SET_DEVICE messages have the same layout)
// into state; finish_device() sorts once all messages are in.
Status merge_device_message(const nlmsghdr* h, WgDeviceState& state);
void finish_device(WgDeviceState& state);

Result<WgDeviceState> get_device(Transport& genl, uint16_t family, std::string_view ifname);
Status set_device(Transport& genl, uint16_t family, const WgDeviceUpdate& u);

}  // namespace avpn::nl
