// The kernel backend: WgBackend over the generic-netlink "wireguard" family.
// The wire work (family lookup, dump with split-peer merge, set split across
// messages) is netlink/wireguard.hpp's; this file only adapts avpn's delta
// and status types to it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "netlink/socket.hpp"
#include "netlink/wireguard.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::wg {

class KernelBackend final : public WgBackend {
public:
    // A NETLINK_GENERIC socket with the "wireguard" family resolved. Fails
    // with a hint when the kernel has no WireGuard (module not loaded).
    static Result<std::unique_ptr<KernelBackend>> open(const nl::SocketOptions& options = {});
    // Over any transport (tests script the kernel).
    KernelBackend(std::unique_ptr<nl::Transport> genl, uint16_t family)
        : genl_(std::move(genl)), family_(family) {}

    std::string_view name() const override { return "kernel"; }
    Result<nl::WgDevice> get(const std::string& ifname) override;
    Result<WgDeviceStatus> status(const std::string& ifname) override;
    // One batch of SET_DEVICE messages. Peers whose keepalive the change
    // leaves alone cost one extra read: netlink always sends a keepalive.
    Status set(const WgDeviceChange& change) override;

private:
    std::unique_ptr<nl::Transport> genl_;
    uint16_t family_;
};

// make_kernel_backend() (declared in select.hpp) opens one of these.

// The conversions, pure (tested without a kernel).
WgDeviceStatus from_kernel(nl::WgDeviceState state);
// True when a peer to create or update leaves its keepalive unset.
bool needs_current_keepalive(const WgDeviceChange& change);
// `observed` supplies the keepalive of peers the change leaves alone (0 for
// peers it does not hold); the caller wipes the returned private key.
nl::WgDeviceUpdate to_kernel(const WgDeviceChange& change, const std::optional<SecretKey>& private_key,
                             const nl::WgDevice* observed);

}  // namespace avpn::wg
