// The site runtime: one site kept converged over time. It holds the state
// directory's lock for its lifetime, the kernel port, the reconciler's kernel
// image and the incremental planner, and charon's part as last applied.
// avpnd drives it from its event loop (orchestrator/daemon); nothing here
// waits for events.
// - converge(full=false): a change that keeps every group's constants goes
//   through the incremental planner and the kernel image (only the changed
//   members' objects are planned, diffed and written); anything else, and
//   converge(full=true), is a full apply that reads the kernel back, repairs
//   drift and re-reads uplink addresses;
// - retry_ipsec(): IPsec initiators without an IKE_SA are initiated again
//   with back-off (retry.hpp): charon gives up after an authentication
//   failure, the peer may fix its side later. The schedule is in
//   <state-dir>/ipsec.retry for `avpnctl status`;
// - reap_wireguard_go(): the site's wireguard-go daemons are watched
//   (plugins/wireguard/supervisor.hpp); one that exited is restarted by the
//   next converge, logged and counted. Those running at open() are adopted,
//   never restarted;
// - wireguard_drift(): reads the owned WireGuard devices back and compares
//   them with what was last applied (wireguard_watch.hpp): WireGuard raises
//   no notification, so avpnd polls.
// A bad config on reload is reported and the running state kept.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/reconcile/reconciler.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "orchestrator/runtime/drift.hpp"
#include "orchestrator/runtime/wireguard_watch.hpp"
#include "plugins/vici/retry.hpp"
#include "plugins/wireguard/supervisor.hpp"

namespace avpn::runtime {

struct SiteOptions {
    std::string config;
    std::string state_dir;
    std::string vici_socket;
    int settle_seconds = 10;
    int retry_first = 5;  // seconds: first wait between re-initiations of a down IPsec initiator
    int retry_max = 300;  // ... doubling up to this
};

// One line per event; avpnd writes them to stderr for the journal.
using Log = std::function<void(const std::string&)>;

class Site {
public:
    // Loads the configuration (its diagnostics go to log), takes the state
    // directory's lock and opens the kernel port. Nothing is applied yet.
    static Result<std::unique_ptr<Site>> open(const SiteOptions& options, Log log);

    bool reload();                                // re-reads the config; false: it has errors, the old one stays
    bool converge(bool full, const std::string& why);
    void retry_ipsec();                           // re-initiates down initiators that are due
    void forget_retries();                        // nobody retries once avpnd is gone
    int wireguard_go_fd() const { return wireguard_go_->fd(); }  // readable: a daemon exited
    bool reap_wireguard_go() { return wireguard_go_->reap(); }   // true: converge to restart it
    // How an owned WireGuard device differs from the last apply, in words;
    // nullopt when all hold (or nothing was applied). A device that cannot
    // be read counts as a difference.
    std::optional<std::string> wireguard_drift();

    bool last_ok() const { return last_ok_; }
    bool has_ipsec() const { return !ipsec_.empty(); }
    bool has_wireguard() const { return !wireguard_.empty(); }
    const Intent& intent() const { return *intent_; }
    const SiteOptions& options() const { return options_; }
    const WatchScope& watch_scope() const { return scope_; }

private:
    using Clock = std::chrono::steady_clock;
    Site(const SiteOptions& o, Log log, std::unique_ptr<NetlinkPort> port);

    bool load_config();
    void use(Intent intent);
    bool apply_full(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0);
    bool apply_change(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0);
    void refresh_own_ports();

    SiteOptions options_;
    Log log_;
    StateDir state_;
    std::unique_ptr<NetlinkPort> port_;
    Reconciler reconciler_;
    IncrementalPlanner planner_;
    std::optional<Intent> intent_;
    WatchScope scope_;
    bool last_ok_ = false;
    std::vector<vici::Connection> ipsec_;  // charon's part as last applied
    WireguardExpectation wireguard_;       // the WireGuard devices as last applied
    vici::RetrySchedule retry_;
    std::shared_ptr<wg::Supervisor> wireguard_go_;  // shared with the port, which starts and adopts
};

}  // namespace avpn::runtime
