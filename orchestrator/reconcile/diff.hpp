// The pure half of reconciliation: desired vs observed kernel state in, the
// minimal ordered op list out. Deletes come first, in reverse dependency order
// (rules before routes before ... before links), then creates and updates in
// dependency order. Equal states give an empty list: a no-op apply writes
// nothing.
#pragma once

#include <vector>

#include "netlink/objects.hpp"
#include "orchestrator/reconcile/ops.hpp"

namespace avpn {

std::vector<Op> diff(const nl::KernelState& desired, const nl::KernelState& observed);

// True when the observed device already is what the desired one asks for.
// A desired peer without an endpoint accepts any observed endpoint (a hub
// learns its spokes' endpoints from their handshakes); the private key is
// compared through the public key.
bool same_wireguard(const nl::WgDevice& desired, const nl::WgDevice& observed);

}  // namespace avpn
