// WireGuard drift, which no notification reports: kernel WireGuard has no
// multicast group and wireguard-go announces nothing, so `wg set ... peer X
// remove` is only seen by reading the device. The site runtime keeps the
// devices as last applied (WireguardExpectation) and avpnd reads them back
// every few seconds (docs/architecture.md, "WireGuard poll").
//
// The check is the one equality rule for WireGuard devices (wg::diff, which
// reconcile's same_wireguard is too) against the device as applied with its
// peers' endpoints left out: a peer roams, and a hub learns its spokes'
// endpoints from handshakes. So whatever the poll reports, the full apply
// writes, and a poll cannot set off repairs that change nothing, forever.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netlink/objects.hpp"

namespace avpn::runtime {

class WireguardExpectation {
public:
    // After a full apply: exactly these devices.
    void reset(const std::vector<nl::WgDevice>& applied);
    // After an incremental apply (IncrementalPlanner's want/was): peers
    // named in `was` but not in `want` went, those in `want` are as given;
    // a device's own settings are always in `want`.
    void apply(const std::vector<nl::WgDevice>& want, const std::vector<nl::WgDevice>& was);
    void clear() { devices_.clear(); }

    bool empty() const { return devices_.empty(); }
    std::vector<std::string> interfaces() const;
    // What `observed` lacks or has beyond the expectation of its interface,
    // in words for the log; nullopt when it holds what was applied.
    std::optional<std::string> difference(const nl::WgDevice& observed) const;

private:
    // By interface; peers sorted by public key, without endpoints.
    std::map<std::string, nl::WgDevice> devices_;
};

}  // namespace avpn::runtime
