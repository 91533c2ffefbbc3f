// What avpnd shows of a running site, from memory: the committed plan's
// peers by name (peer_directory.hpp) with the key exchange's state, and the
// uplinks as the last converge read them. No kernel is read here; the
// caller passes the WireGuard devices it has (status: read now; metrics:
// the last poll's, Site::wireguard_seen()).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "orchestrator/runtime/site.hpp"

namespace avpn::runtime {

// Empty when nothing was applied yet (or after `avpnctl down`).
std::vector<PeerRow> site_peer_rows(const Site& site, const std::map<std::string, wg::WgDeviceStatus>& devices);

// In order of preference; the active one is the uplink the tunnels use: the
// first with an address (failover = true), else the first.
std::vector<DaemonFacts::Uplink> site_uplinks(const Site& site);

// The registry clients and each group's NAT type (registry_clients.hpp).
void site_registries(const Site& site, DaemonFacts& facts);

}  // namespace avpn::runtime
