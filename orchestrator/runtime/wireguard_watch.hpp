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

#include <cstdint>
#include <map>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
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

namespace avpn::planner {
struct SitePieces;
}
namespace avpn::wg {
struct WgDeviceStatus;
}

namespace avpn::runtime {

// WireGuard peers that roamed away from the endpoint the plan gave them,
// (group, site) -> where WireGuard now sends: the device holds another
// endpoint than the planned one and has had a handshake within 180 s
// (WireGuard's Reject-After-Time), so that endpoint is one it learned from
// authenticated packets. A NAT may map a peer differently towards this
// site than towards the registries; the next full apply would set the
// registry's contact back and cut the tunnel until the peer's next packet
// (seen in netns_registry_hairpin: 12 of 35 pings). As PlanInputs::roamed
// (which XFRM's key exchange fills the same way), the plan follows the
// peer instead. Peers without a planned endpoint are left out: the plan
// never sets theirs. `seen`: by interface, as the WireGuard poll read them;
// `current`: the roams the committed plan follows (its endpoint is then
// the roamed one): kept while live and held. A roam whose handshakes
// stopped for 180 s is dropped, and the plan goes back to the contact.
std::map<std::pair<std::string, std::string>, Endpoint> wireguard_roams(
    const planner::SitePieces& committed, const std::map<std::string, wg::WgDeviceStatus>& seen, int64_t now,
    const std::map<std::pair<std::string, std::string>, Endpoint>& current);

}  // namespace avpn::runtime
