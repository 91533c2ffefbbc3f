// Starting and stopping a userspace WireGuard daemon (wireguard-go) for one
// interface. The daemon creates the TUN interface and its UAPI socket.
//
// It is run in the foreground ("-f") in a double-forked grandchild with a
// session of its own, so avpn learns its pid, no zombie is left behind, it
// can never get a controlling terminal and the daemon outlives a one-shot
// `avpnctl apply` and any signal sent to avpn's process group. It starts with
// default signal dispositions, an empty signal mask and only stdio open.
// Starting waits, bounded, until the UAPI socket exists, and reports a daemon
// that died on the way.
//
// Under systemd the daemon goes through `systemd-run --scope`: a transient
// scope of its own, outside the cgroup of the unit that started it, so
// stopping or restarting avpnd.service (or the end of a oneshot unit that ran
// `avpnctl apply`) does not kill it (docs/architecture.md, Supervision).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

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
    // Run it in a transient systemd scope; unset: when this process runs as
    // a systemd unit (running_as_systemd_unit()).
    std::optional<bool> own_scope;
    std::string systemd_run = "systemd-run";  // looked up in PATH without a '/'
};

// systemd is the init ("/run/systemd/system" exists) and this process belongs
// to one of its units ($INVOCATION_ID): only then is there a unit whose stop
// would kill the daemon with it.
bool running_as_systemd_unit();

// The daemon's command line: `wireguard-go -f IF`, or with own_scope
// `systemd-run --scope --collect --description=... -- DAEMON_PATH -f IF`
// (systemd-run moves itself into the scope and execs the daemon in place,
// so the pid avpn learns stays the daemon's). argv[0] first.
std::vector<std::string> wireguard_go_argv(const std::string& ifname, const std::string& daemon_path,
                                           const WireguardGoOptions& options, bool own_scope);

// The daemon's pid once its UAPI socket is there.
Result<pid_t> start_wireguard_go(const std::string& ifname, const WireguardGoOptions& options);

// The pid of the daemon that answers on ifname's UAPI socket (the socket's
// peer credentials); an error when nothing answers.
Result<pid_t> running_wireguard_go(const std::string& ifname, const std::string& socket_dir);

// How a process ended, from its wait status: "status 1", "signal SIGKILL".
std::string exit_text(int wstatus);

// SIGTERM, then SIGKILL after timeout_ms; ok once the process is gone.
Status stop_wireguard_go(pid_t pid, int timeout_ms = 2000);

}  // namespace avpn::wg
