// avpnd's event loop: the wiring between the site runtime
// (orchestrator/runtime/site.hpp) and what happens to it:
// - start: a full apply, then READY=1 to systemd (sd_notify.hpp);
// - SIGHUP: RELOADING=1, reload the config and converge (incrementally
//   where it can), READY=1;
// - kernel notifications about avpn's objects or uplinks from anyone else
//   (runtime/drift.hpp), also those that arrive while avpnd itself applies,
//   and a WireGuard device that no longer holds what was applied (read back
//   every --wireguard-poll-ms): a full apply once the kernel has been quiet
//   for --quiet-ms, at most DriftDebounce's bound after the first change
//   (timers.hpp); it repairs drift and re-reads uplink addresses;
// - every --resync seconds: a full apply, the backstop for anything no
//   notification or poll reports;
// - every --retry-first seconds while the site has IPsec initiators: the
//   runtime's re-initiation round;
// - a wireguard-go of the site that exits: a full apply after the quiet
//   period, which restarts it (the runtime logs and counts it);
// - half systemd's watchdog interval: WATCHDOG=1, sent from the loop so a
//   wedged loop stops it;
// - a client on the control socket (runtime/control_server.hpp): avpnctl
//   apply, down, status, reload, confirm, served one at a time; a
//   commit-confirm deadline that passed: the rollback;
// - a scraper on [site] metrics (runtime/metrics_server.hpp): served from
//   memory, non-blocking, one connection at a time with a deadline; the
//   server follows the config (opened, moved or closed after each apply
//   or reload);
// - SIGTERM / SIGINT: STOPPING=1 and exit, leaving tunnels up (`avpnctl
//   down` removes them), as networkd and charon do.
#pragma once

#include <memory>
#include <string>

#include "netlink/watch.hpp"
#include "orchestrator/daemon/sd_notify.hpp"
#include "orchestrator/daemon/timers.hpp"
#include "orchestrator/runtime/control_server.hpp"
#include "orchestrator/runtime/metrics_server.hpp"
#include "orchestrator/runtime/site.hpp"

namespace avpn::daemon {

struct Options {
    runtime::SiteOptions site;
    int resync_seconds = 300;
    int quiet_ms = 200;  // after a foreign change, wait this long for more
    // Between reads of the owned WireGuard devices (0: never); longer when
    // a read is slow (daemon.cpp, kPollCostFactor).
    int wireguard_poll_ms = 2000;
    runtime::ControlSocketOptions control;
};

class Daemon {
public:
    static Result<std::unique_ptr<Daemon>> start(const Options& options);
    ~Daemon();
    int run();  // until SIGTERM or SIGINT; the exit code

private:
    Daemon(const Options& o, std::unique_ptr<runtime::Site> site, nl::Watch watch, int signal_fd, Notifier notifier,
           std::unique_ptr<runtime::ControlServer> control);

    // What woke the loop.
    struct Wakeup {
        bool signals = false;
        bool kernel = false;
        bool wireguard_go = false;  // a daemon of the site exited
        bool control = false;       // a client on the control socket
        bool keying = false;        // a datagram on an XFRM group's ESP-in-UDP socket
        bool expire = false;        // the kernel expired an SA (XFRMNLGRP_EXPIRE)
        bool metrics = false;       // the metrics socket is ready
        bool probes = false;        // a reply on an uplink's probe socket
        bool registry = false;      // a datagram on a WireGuard group's shared port (a registry's)
        bool failed = false;        // poll itself failed
    };
    Wakeup wait(Clock::time_point deadline);
    Clock::time_point next_deadline() const;

    bool handle_signals();  // false: stop
    void reload();
    // Converges, then looks at what the kernel reported meanwhile.
    void converge(bool full, const std::string& why);
    // Serves one control request (it may apply, reload or bring the site
    // down), then does a converge's bookkeeping.
    void serve_control();
    // Drains the watch; a foreign change to avpn's objects starts (or
    // extends) the debounce. Returns whether one was seen.
    bool note_kernel_events();
    void note_drift(const std::string& why);
    void note_daemon_exit();
    void poll_wireguard();
    void run_due_timers();
    void notify(const std::string& state);
    std::string status_text() const;
    // Opens, moves or closes the metrics server as the running config says.
    void sync_metrics();
    std::string render_metrics() const;

    Options options_;
    std::unique_ptr<runtime::Site> site_;
    nl::Watch watch_;
    int signal_fd_ = -1;
    Notifier notifier_;
    std::unique_ptr<runtime::ControlServer> control_;
    std::unique_ptr<runtime::MetricsServer> metrics_;

    DriftDebounce drift_;
    std::string drift_why_;  // what the pending repair is for, for its log line
    Timer resync_, ipsec_round_, watchdog_, wireguard_poll_, keying_tick_, shortcut_tick_;
    std::string last_converge_;  // why, for STATUS=
    // A wireguard-go exit already brought the retry forward in this streak
    // of failed applies: a daemon that dies on every start waits out the
    // ordinary retry instead of looping.
    bool exit_retry_spent_ = false;
    // A held uplink failback that fell due is checked no more often than
    // this, so a check that moves nothing cannot spin the loop.
    Clock::time_point uplink_check_after_{};
};

}  // namespace avpn::daemon
