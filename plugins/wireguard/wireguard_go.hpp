// Starting and stopping a userspace WireGuard daemon (wireguard-go) for one
// interface. The daemon creates the TUN interface and its UAPI socket.
//
// It is run in the foreground ("-f") in a double-forked grandchild with a
// session of its own, so avpn learns its pid, no zombie is left behind and
// the daemon outlives a one-shot `avpnctl apply`. Starting waits, bounded,
// until the UAPI socket exists, and reports a daemon that died on the way.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.hpp"
#include "plugins/wireguard/uapi.hpp"

namespace avpn::wg {

struct WireguardGoOptions {
    std::string program = "wireguard-go";     // looked up in PATH without a '/'
    std::string socket_dir = kUapiSocketDir;  // where the daemon puts <ifname>.sock
    int start_timeout_ms = 5000;
    std::string log_path;    // the daemon's stdout+stderr (appended); empty: /dev/null
    std::string log_level;   // LOG_LEVEL for the daemon (verbose|error|silent); empty: its default
    std::string netns_path;  // run it in this network namespace; empty: the caller's
};

// The daemon's pid once its UAPI socket is there.
Result<pid_t> start_wireguard_go(const std::string& ifname, const WireguardGoOptions& options);

// SIGTERM, then SIGKILL after timeout_ms; ok once the process is gone.
Status stop_wireguard_go(pid_t pid, int timeout_ms = 2000);

}  // namespace avpn::wg
