// The baseline side of bench_apply: the very kernel objects of a plan written
// by the standard tools — `ip -batch` for addresses, routes and rules,
// `ip -batch` xfrm for policies, `wg setconf` for the WireGuard device — so
// the bench can time avpn against them in the same run.
#pragma once

#include <string>
#include <vector>

#include "netlink/objects.hpp"

namespace avpn::bench {

// Files for the tools, rendered from a plan (not timed).
struct BaselineFiles {
    std::string rtnl;       // `ip -batch`: link up, addresses, routes, IPv4 rules
    std::string rtnl6;      // `ip -6 -batch`: IPv6 rules (ip has no per-line family)
    std::string xfrm;       // `ip -batch`: xfrm policy add ...
    std::string wg_conf;    // `wg setconf` of the one WireGuard device
    std::string wg_ifname;  // that device
};

// Renders `desired` (one WireGuard device at most; no SAs, no XFRM links)
// into files under `dir`. private_key_b64 is the device key's text.
BaselineFiles write_baseline_files(const nl::KernelState& desired, const std::string& private_key_b64,
                                   const std::string& dir);

// Runs argv, waits; true when it exited 0. stdout (and with quiet, stderr)
// goes to /dev/null.
bool run_program(const std::vector<std::string>& argv, bool quiet = false);

}  // namespace avpn::bench
