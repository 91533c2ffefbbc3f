#include "orchestrator/daemon/daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <iostream>
#include <vector>

#include "netlink/error.hpp"
#include "orchestrator/runtime/metrics.hpp"
#include "orchestrator/runtime/site_view.hpp"

namespace avpn::daemon {

namespace {

using std::chrono::milliseconds;

// After a failed full apply, the next attempt comes this soon instead of at
// the resync.
constexpr auto kRetryAfterFailure = std::chrono::seconds(10);

// The WireGuard poll waits at least this many times as long as its last
// read took, so it never takes more than 5 % of the loop: reading 2,000
// peers over UAPI costs 12-85 ms (the 2 s default holds), 10,000 peers
// 60-290 ms (then every 1.2-6 s; docs/benchmarks.md).
constexpr int kPollCostFactor = 20;
// The XFRM key exchange's timers (handshake retries, keepalives, rotation,
// lingering SAs) are checked this often; its finest timer is one second.
constexpr auto kKeyingTick = std::chrono::milliseconds(250);
constexpr auto kShortcutTick = std::chrono::seconds(1);
constexpr auto kUplinkCheckSpacing = std::chrono::milliseconds(100);

void log(const std::string& line) { std::cerr << "avpnd: " << line << std::endl; }

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Options& o) {
    // First, before anything can start a child: the variables are unset so
    // wireguard-go does not inherit them.
    auto notifier = Notifier::from_environment();
    if (!notifier) {
        log("systemd notifications off: " + notifier.error().str());
        notifier = Notifier();
    }
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return nl::system_error("start", "signals", errno);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return nl::system_error("start", "signalfd", errno);
    // The watch opens before the first apply, so nothing in between is missed.
    auto watch = nl::Watch::open();
    if (!watch) {
        ::close(sfd);
        return watch.error();
    }
    auto site = runtime::Site::open(o.site, log);
    if (!site) {
        ::close(sfd);
        return site.error();
    }
    auto control = runtime::ControlServer::open(o.control, log);
    if (!control) {
        ::close(sfd);
        return control.error();
    }
    return std::unique_ptr<Daemon>(
        new Daemon(o, std::move(*site), std::move(*watch), sfd, std::move(*notifier), std::move(*control)));
}

Daemon::Daemon(const Options& o, std::unique_ptr<runtime::Site> site, nl::Watch watch, int signal_fd,
               Notifier notifier, std::unique_ptr<runtime::ControlServer> control)
    : options_(o), site_(std::move(site)), watch_(std::move(watch)), signal_fd_(signal_fd),
      notifier_(std::move(notifier)), control_(std::move(control)),
      drift_(milliseconds(o.quiet_ms), DriftDebounce::default_bound(milliseconds(o.quiet_ms))) {}

Daemon::~Daemon() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

void Daemon::notify(const std::string& state) {
    if (Status s = notifier_.send(state); !s) log(s.error().str());
}

std::string Daemon::status_text() const {
    std::string s = site_->intent().site.name + ": ";
    if (site_->last_ok()) return s + "converged (" + last_converge_ + ")";
    return s + "the last apply failed (" + last_converge_ + "); retrying every " +
           std::to_string(kRetryAfterFailure.count()) + " s";
}

void Daemon::sync_metrics() {
    const std::optional<Endpoint>& want = site_->intent().site.metrics;
    if (metrics_ && want && metrics_->endpoint() == *want) return;
    if (metrics_) log("metrics: no longer serving on " + metrics_->endpoint().str());
    metrics_.reset();
    if (!want) return;
    auto m = runtime::MetricsServer::open(*want, [this] { return render_metrics(); });
    if (!m) {
        // Not fatal: the tunnels matter more than their figures. The next
        // apply or reload tries again.
        log("metrics: " + m.error().str() + "; not served until the next apply or reload");
        return;
    }
    metrics_ = std::move(*m);
    log("metrics: serving http://" + want->str() + "/metrics");
}

std::string Daemon::render_metrics() const {
    runtime::MetricsSnapshot s;
    s.site = site_->intent().site.name;
    s.now = int64_t(std::time(nullptr));
    s.peers = runtime::site_peer_rows(*site_, site_->wireguard_seen());
    s.uplinks = runtime::site_uplinks(*site_);
    runtime::DaemonFacts registries;
    runtime::site_registries(*site_, registries);
    s.registries = std::move(registries.registries);
    if (const runtime::UplinkSelector* u = site_->uplink_selector()) s.uplink_failovers = u->failovers();
    if (auto d = site_->last_failover()) s.last_failover_seconds = std::chrono::duration<double>(*d).count();
    s.applies = site_->apply_stats();
    s.wireguard_read_at = site_->wireguard_seen_at();
    s.firewall = site_->firewall_counters();
    s.firewall_read_at = site_->firewall_counters_at();
    return runtime::render_metrics(s);
}

void Daemon::note_drift(const std::string& why) {
    // While the site fails to apply, the retry after a failure is the
    // repair: an apply that fails (and undoes itself) stirs the kernel,
    // which must not turn into a repair every quiet period.
    if (!site_->last_ok()) return;
    if (!drift_.pending()) drift_why_ = why;
    drift_.note(Clock::now());
}

// A watched wireguard-go that exited has taken its link's traffic with it,
// so its restart must not wait for the retry after a failed apply (the
// apply that failed may have been talking to it as it died: "read UAPI
// response: Connection reset by peer"). Once per streak of failures only.
void Daemon::note_daemon_exit() {
    if (site_->last_ok()) return note_drift("wireguard-go exited");
    if (exit_retry_spent_) return;
    exit_retry_spent_ = true;
    drift_why_ = "wireguard-go exited";
    drift_.note(Clock::now());
}

bool Daemon::note_kernel_events() {
    for (const nl::KernelEvent& e : watch_.drain()) {
        if (!runtime::concerns_avpn(e, site_->watch_scope())) continue;
        if (runtime::concerns_uplinks(e, site_->watch_scope())) site_->note_uplink_event(Clock::now());
        if (!drift_.pending() && site_->last_ok()) log("drift: " + runtime::describe(e));
        note_drift("kernel changed by another process");
        return true;  // the rest of the batch was drained with it
    }
    return false;
}

void Daemon::converge(bool full, const std::string& why) {
    // Expiries first: a repair must not bring back an SA the kernel
    // deleted at its hard limit while its session still holds the key.
    site_->expire_readable();
    // What came before this apply: a full apply reads the kernel and so
    // repairs it; a change reads nothing, so it stays pending.
    note_kernel_events();
    if (full) drift_.clear();
    site_->converge(full, why);
    last_converge_ = why;
    if (site_->last_ok()) exit_retry_spent_ = false;
    if (full || !site_->last_ok())
        resync_.arm_in(site_->last_ok() ? Clock::duration(std::chrono::seconds(options_.resync_seconds))
                                        : Clock::duration(kRetryAfterFailure),
                       Clock::now());
    // Never drained blindly: avpnd's own writes carry its port ids and do
    // not count, but a change someone else made while it applied does, and
    // is repaired after the quiet period, not at the next resync.
    note_kernel_events();
}

void Daemon::serve_control() {
    site_->expire_readable();  // as before a converge
    note_kernel_events();  // what came before the request, as before a converge
    if (!control_->handle(*site_)) return;
    last_converge_ = "avpnctl request";
    if (site_->last_ok()) exit_retry_spent_ = false;
    resync_.arm_in(site_->last_ok() ? Clock::duration(std::chrono::seconds(options_.resync_seconds))
                                    : Clock::duration(kRetryAfterFailure),
                   Clock::now());
    notify("STATUS=" + status_text());
    sync_metrics();
    note_kernel_events();  // a foreign change made while the request ran
}

void Daemon::reload() {
    notify("RELOADING=1\n" + monotonic_usec_field() + "\nSTATUS=reloading " + site_->options().config);
    if (site_->reload()) {
        log("reload: " + site_->options().config + " read; applying");
        converge(false, "configuration reloaded");
    } else {
        log("reload: the configuration has errors; the running state is kept");
    }
    sync_metrics();
    notify("READY=1\nSTATUS=" + status_text());
}

bool Daemon::handle_signals() {
    signalfd_siginfo info;
    bool keep = true;
    while (::read(signal_fd_, &info, sizeof info) == ssize_t(sizeof info)) {
        if (info.ssi_signo == SIGHUP)
            reload();
        else
            keep = false;
    }
    return keep;
}

void Daemon::poll_wireguard() {
    const auto t0 = Clock::now();
    // Nothing to compare with after a failed apply, and a repair already
    // due reads every device anyway.
    if (site_->last_ok() && !drift_.pending()) {
        if (auto d = site_->wireguard_drift()) {
            log("drift: WireGuard " + *d);
            note_drift("WireGuard changed by another process");
        } else if (site_->take_wireguard_roams()) {
            converge(false, "WireGuard peers roamed");
        } else if (auto f = site_->firewall_drift()) {
            // nftables' changes come on a netlink group avpnd does not
            // watch: the table is polled with the devices.
            log("drift: " + *f);
            note_drift("table inet avpn changed by another process");
        }
    }
    if (metrics_) site_->read_firewall_counters();
    const auto now = Clock::now();
    const Clock::duration interval = milliseconds(options_.wireguard_poll_ms);
    wireguard_poll_.arm_in(std::max(interval, kPollCostFactor * (now - t0)), now);
}

void Daemon::run_due_timers() {
    if (drift_.due(Clock::now()) || resync_.due(Clock::now())) {
        converge(true, drift_.due(Clock::now()) ? drift_why_ : "periodic resync");
        notify("STATUS=" + status_text());
    }
    if (site_->has_ipsec() && ipsec_round_.due(Clock::now())) {
        site_->retry_ipsec();
        ipsec_round_.arm_in(std::chrono::seconds(site_->options().retry_first), Clock::now());
    }
    if ((site_->has_wireguard() || site_->has_firewall()) && wireguard_poll_.due(Clock::now())) poll_wireguard();
    if (site_->has_xfrm() && keying_tick_.due(Clock::now())) {
        site_->keying_tick();
        keying_tick_.arm_in(kKeyingTick, Clock::now());
    }
    if (auto at = site_->keying_flush_at(); at && *at <= Clock::now()) site_->flush_keying();
    // Shortcuts (docs/shortcuts.md): a look each second, as their probes.
    if (site_->has_shortcuts() && shortcut_tick_.due(Clock::now())) {
        shortcut_tick_.arm_in(kShortcutTick, Clock::now());
        if (site_->shortcut_tick()) converge(false, "shortcuts");
    }
    if (auto at = site_->registry_at(); at && *at <= Clock::now() && site_->registry_tick())
        converge(false, "registry contacts");
    if (auto at = site_->probe_at(); at && *at <= Clock::now() && site_->probe_tick())
        converge(false, "uplink probes");
    if (auto at = site_->uplink_check_at(); at && std::max(*at, uplink_check_after_) <= Clock::now()) {
        uplink_check_after_ = Clock::now() + kUplinkCheckSpacing;
        if (site_->uplink_tick()) converge(false, "uplink failback");
    }
    // Last, after whatever else was due: a loop stuck in any of it misses
    // the ping and systemd restarts avpnd.
    if (watchdog_.due(Clock::now())) {
        notify("WATCHDOG=1");
        watchdog_.arm_in(*notifier_.watchdog() / 2, Clock::now());
    }
}

Clock::time_point Daemon::next_deadline() const {
    Clock::time_point t = std::min({drift_.at(), resync_.at(), watchdog_.at()});
    if (site_->has_ipsec()) t = std::min(t, ipsec_round_.at());
    if (site_->has_wireguard() || site_->has_firewall()) t = std::min(t, wireguard_poll_.at());
    if (site_->has_xfrm()) t = std::min(t, keying_tick_.at());
    if (site_->has_shortcuts()) t = std::min(t, shortcut_tick_.at());
    if (auto at = site_->keying_flush_at()) t = std::min(t, *at);
    if (auto at = site_->uplink_check_at()) t = std::min(t, std::max(*at, uplink_check_after_));
    if (auto at = site_->probe_at()) t = std::min(t, *at);
    if (auto at = site_->registry_at()) t = std::min(t, *at);
    if (metrics_)
        if (auto at = metrics_->deadline()) t = std::min(t, *at);
    return t;
}

Daemon::Wakeup Daemon::wait(Clock::time_point deadline) {
    int timeout = -1;
    if (deadline != Clock::time_point::max()) {
        // Rounded up: waking a little early would spin until the deadline.
        auto ms = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
        timeout = int(std::clamp<long long>(ms, 0, INT_MAX));
    }
    // One entry per event source; poll() skips an fd of -1 (no XFRM netlink,
    // no XFRM group). The XFRM groups' ESP-in-UDP sockets come last, as
    // many as there are.
    std::vector<pollfd> fds = {{signal_fd_, POLLIN, 0},
                               {watch_.rtnl_fd(), POLLIN, 0},
                               {watch_.xfrm_fd(), POLLIN, 0},
                               {site_->wireguard_go_fd(), POLLIN, 0},
                               {control_->fd(), POLLIN, 0},
                               {site_->expire_fd(), POLLIN, 0},
                               {metrics_ ? metrics_->fd() : -1, metrics_ ? metrics_->events() : short(0), 0}};
    for (int fd : site_->keying_fds()) fds.push_back({fd, POLLIN, 0});
    const size_t probes_from = fds.size();
    for (int fd : site_->probe_fds()) fds.push_back({fd, POLLIN, 0});
    const size_t registry_from = fds.size();
    for (int fd : site_->registry_fds()) fds.push_back({fd, POLLIN, 0});
    Wakeup w;
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
        log(std::string("poll: ") + std::strerror(errno));
        w.failed = true;
        return w;
    }
    w.signals = fds[0].revents & POLLIN;
    w.kernel = (fds[1].revents | fds[2].revents) & (POLLIN | POLLERR);
    w.wireguard_go = fds[3].revents & POLLIN;
    w.control = fds[4].revents & POLLIN;
    w.expire = fds[5].revents & (POLLIN | POLLERR);  // POLLERR: an overrun, which drain() reports
    w.metrics = fds[6].revents != 0;  // an error or hang-up is handled by the read or write too
    for (size_t i = 7; i < probes_from; ++i) w.keying |= bool(fds[i].revents & POLLIN);
    for (size_t i = probes_from; i < registry_from; ++i) w.probes |= bool(fds[i].revents & POLLIN);
    for (size_t i = registry_from; i < fds.size(); ++i) w.registry |= bool(fds[i].revents & POLLIN);
    return w;
}

int Daemon::run() {
    const runtime::SiteOptions& so = site_->options();
    log("managing " + site_->intent().site.name + " from " + so.config + " (state " + so.state_dir + ")");
    converge(true, "start");
    sync_metrics();
    // READY=1 after the first apply whatever its outcome: avpnd is then up
    // and doing its job, which includes retrying a failed apply every 10 s
    // and repairing; STATUS= and the journal say how it went. Failing the
    // start instead would make systemd restart avpnd in a loop and hold
    // back every unit ordered after it, over what may be a peer or uplink
    // that is simply not there yet.
    notify("READY=1\nSTATUS=" + status_text());
    auto now = Clock::now();
    ipsec_round_.arm_in(std::chrono::seconds(so.retry_first), now);
    if (options_.wireguard_poll_ms > 0) wireguard_poll_.arm_in(milliseconds(options_.wireguard_poll_ms), now);
    keying_tick_.arm_at(now);
    shortcut_tick_.arm_at(now);
    if (auto interval = notifier_.watchdog()) {
        log("systemd watchdog: WATCHDOG=1 every " + std::to_string(interval->count() / 2000) + " ms");
        watchdog_.arm_at(now);
    }
    for (;;) {
        Wakeup w = wait(next_deadline());
        if (w.failed) return 1;
        if (w.signals && !handle_signals()) break;
        if (w.kernel) note_kernel_events();
        // Before the control request: an apply it runs must not bring back
        // an SA the kernel just deleted at its hard limit.
        if (w.expire) site_->expire_readable();
        if (w.control) serve_control();
        if (w.keying && site_->keying_readable()) converge(false, "registry contacts");
        if (w.registry && site_->registry_readable()) converge(false, "registry contacts");
        // Before the timers: a reply waiting must not be taken for a loss.
        if (w.probes && site_->probe_readable()) converge(false, "uplink probes");
        // Also when its deadline passed without the socket becoming ready.
        if (metrics_ && (w.metrics || (metrics_->deadline() && *metrics_->deadline() <= Clock::now())))
            metrics_->ready(Clock::now());
        // The full apply creates the link again (the kernel removed the TUN
        // device with the process) and so starts a new daemon.
        if (w.wireguard_go && site_->reap_wireguard_go()) note_daemon_exit();
        run_due_timers();
    }
    notify("STOPPING=1\nSTATUS=stopping; tunnels stay up");
    site_->forget_retries();
    log("stopping; tunnels stay up (avpnctl down removes them)");
    return 0;
}

}  // namespace avpn::daemon
