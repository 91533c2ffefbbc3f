// avpnd: keeps one site converged. It holds the state directory's lock for
// its lifetime, applies the site in full at start, and then:
// - SIGHUP: reloads the config; a change that keeps every group's constants
//   goes through the incremental planner and the reconciler's kernel image
//   (only the changed members' objects are planned, diffed and written);
// - kernel notifications about avpn's objects or uplinks from anyone else
//   (drift.hpp): a full apply after a short quiet period, which repairs drift
//   and re-reads uplink addresses;
// - every --resync seconds: a full apply, the backstop for anything no
//   notification reports (a WireGuard peer changed behind its back);
// - IPsec initiators without an IKE_SA are initiated again with back-off
//   (--retry-first, doubling up to --retry-max, forever): charon gives up
//   after an authentication failure, the peer may fix its side later. The
//   schedule is in <state-dir>/ipsec.retry for `avpnctl status`;
// - SIGTERM / SIGINT: exits, leaving tunnels up (`avpnctl down` removes
//   them), as networkd and charon do.
// A bad config on reload is reported and the running state kept.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "netlink/watch.hpp"
#include "orchestrator/cli/site_apply.hpp"
#include "orchestrator/daemon/drift.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/reconcile/reconciler.hpp"
#include "plugins/vici/retry.hpp"

namespace avpn::daemon {

struct Options {
    std::string config;
    std::string state_dir;
    std::string vici_socket;
    int settle_seconds = 10;
    int resync_seconds = 300;
    int quiet_ms = 200;  // after a foreign change, wait this long for more
    int retry_first = 5;  // seconds: first wait between re-initiations of a down IPsec initiator
    int retry_max = 300;  // ... doubling up to this
};

class Daemon {
public:
    static Result<std::unique_ptr<Daemon>> start(const Options& options);
    ~Daemon();
    int run();  // until SIGTERM or SIGINT; the exit code

private:
    using Clock = std::chrono::steady_clock;
    Daemon(const Options& o, std::unique_ptr<NetlinkPort> port, nl::Watch watch, int signal_fd);

    bool load_config();                   // false: the old intent stays
    void use(Intent intent);
    bool converge(bool full, const std::string& why);
    bool apply_full(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0);
    bool apply_change(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0);
    void refresh_watch_scope(const OwnedScope& owned);
    bool handle_signals();                // false: stop
    bool drift_seen();                    // drains the watch
    void retry_ipsec();                   // re-initiates down initiators that are due

    Options options_;
    StateDir state_;
    std::unique_ptr<NetlinkPort> port_;
    Reconciler reconciler_;
    IncrementalPlanner planner_;
    nl::Watch watch_;
    int signal_fd_ = -1;
    std::optional<Intent> intent_;
    WatchScope scope_;
    bool last_ok_ = false;
    std::vector<vici::Connection> ipsec_;  // charon's part as last applied
    vici::RetrySchedule retry_;
};

}  // namespace avpn::daemon
