#include "orchestrator/daemon/daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <iostream>
#include <sstream>

#include "orchestrator/cli/ipsec_runtime.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/site_runtime.hpp"

namespace avpn::daemon {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void log(const std::string& line) { std::cerr << "avpnd: " << line << std::endl; }

std::string summary(const std::vector<Op>& ops) {
    OpCounts c = count(ops);
    size_t created = 0, updated = 0, removed = 0;
    for (size_t k = 0; k < kObjectKinds; ++k) {
        created += c.created[k];
        updated += c.updated[k];
        removed += c.removed[k];
    }
    std::ostringstream o;
    o << ops.size() << " ops (" << created << " created, " << updated << " updated, " << removed << " removed)";
    return o.str();
}

std::string timing(double ms) {
    std::ostringstream o;
    o.precision(1);
    o << std::fixed << ms << " ms";
    return o.str();
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Options& o) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
        return Error{"start", "signals", std::strerror(errno)};
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return Error{"start", "signalfd", std::strerror(errno)};
    auto watch = nl::Watch::open();
    if (!watch) {
        ::close(sfd);
        return watch.error();
    }
    cli::Loaded l = cli::load_site_file(o.config, false, false);
    if (l.exit_code != 0 || !l.intent) {
        ::close(sfd);
        return Error{"start", o.config, "the configuration has errors (see above)"};
    }
    auto port = NetlinkPort::open({});
    if (!port) {
        ::close(sfd);
        return port.error();
    }
    std::unique_ptr<Daemon> d(new Daemon(o, std::move(*port), std::move(*watch), sfd));
    if (Status s = d->state_.lock(); !s) return s.error();
    d->use(std::move(*l.intent));
    return d;
}

Daemon::Daemon(const Options& o, std::unique_ptr<NetlinkPort> port, nl::Watch watch, int signal_fd)
    : options_(o), state_(o.state_dir), port_(std::move(port)), reconciler_(*port_), watch_(std::move(watch)),
      signal_fd_(signal_fd), retry_(vici::RetryPolicy{o.retry_first, o.retry_max}) {}

Daemon::~Daemon() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

bool Daemon::load_config() {
    cli::Loaded l = cli::load_site_file(options_.config, false, false);
    if (l.exit_code != 0 || !l.intent) return false;
    use(std::move(*l.intent));
    return true;
}

void Daemon::use(Intent intent) {
    intent_ = std::move(intent);
    scope_.uplinks.clear();
    for (const std::string& u : cli::uplinks_of(*intent_)) scope_.uplinks.insert(u);
}

void Daemon::refresh_watch_scope(const OwnedScope& owned) {
    scope_.owned = owned;
    scope_.own_ports = port_->netlink_ports();
}

bool Daemon::apply_full(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0) {
    if (!u.plan.ok()) {
        for (const Error& e : u.plan.errors) log("plan: " + e.str());
        return false;
    }
    auto last = state_.load();
    if (!last) return log("read the state directory: " + last.error().str()), false;
    cli::SiteApplyOptions o{options_.config, options_.state_dir, options_.vici_socket, options_.settle_seconds, false};
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) {
        return reconciler_.apply_full(d, scope, false);
    };
    cli::SiteApplyResult r = cli::apply_site(*intent_, u.plan.state, *last, *port_, kernel, o);
    for (const std::string& w : r.warnings) log("warning: " + w);
    if (r.ipsec.kernel_rolled_back) reconciler_.forget();  // the image saw the apply, not its undo
    if (!r.ok()) {
        const Error& e = r.refused ? *r.refused : r.kernel.failure ? *r.kernel.failure : *r.ipsec.failure;
        log("full apply (" + why + ") failed: " + e.str());
        planner_.forget();
        return false;
    }
    if (Status s = cli::save_applied(state_, r.record, options_.config); !s) log("save the state: " + s.error().str());
    refresh_watch_scope(r.record.owned);
    ipsec_ = u.plan.state.ipsec;
    log("full apply (" + why + "): " + summary(r.kernel.ops) + " in " + timing(ms_since(t0)));
    planner_.commit(std::move(u));
    return true;
}

bool Daemon::apply_change(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0) {
    ApplyReport r = reconciler_.apply_delta(u.want, u.was, false);
    if (r.failure) {
        log("change (" + why + ") failed: " + r.failure->str() + (r.undo_failures.empty() ? "; undone" : ""));
        planner_.forget();
        return false;
    }
    // `want` holds the whole site-wide part: every interface, every table's
    // group route, every charon connection.
    AppliedRecord rec = cli::record_of(*intent_, u.want, options_.config);
    if (Status s = cli::save_applied(state_, rec, options_.config); !s) log("save the state: " + s.error().str());
    refresh_watch_scope(rec.owned);
    ipsec_ = u.want.ipsec;
    log("change (" + why + "): " + std::to_string(u.peers_changed) + " peers changed, " + summary(r.ops) + " in " +
        timing(ms_since(t0)));
    planner_.commit(std::move(u));
    return true;
}

bool Daemon::converge(bool full, const std::string& why) {
    auto t0 = Clock::now();
    PlanInputs inputs;
    inputs.uplink_addresses = port_->interface_addresses(cli::uplinks_of(*intent_));
    if (full || !reconciler_.has_image()) planner_.forget();
    IncrementalPlanner::Update u = planner_.update(*intent_, inputs);
    // charon's part has no image, and the image holds links as avpn asked
    // for them (not which WireGuard implementation the kernel gave): a change
    // to either goes through a full apply, which reads them back.
    if (!u.full && (u.want.ipsec != u.was.ipsec || u.want.links != u.was.links)) {
        planner_.forget();
        u = planner_.update(*intent_, inputs);
    }
    last_ok_ = u.full ? apply_full(u, why, t0) : apply_change(u, why, t0);
    // An incremental change that cannot be done in place (an interface to
    // replace) is done in full right away.
    if (!last_ok_ && !full && !u.full) return converge(true, why + ", in full");
    return last_ok_;
}

bool Daemon::handle_signals() {
    signalfd_siginfo info;
    bool keep = true;
    while (::read(signal_fd_, &info, sizeof info) == ssize_t(sizeof info)) {
        if (info.ssi_signo == SIGHUP) {
            if (load_config())
                converge(false, "configuration reloaded");
            else
                log("reload: the configuration has errors; the running state is kept");
        } else {
            keep = false;
        }
    }
    return keep;
}

bool Daemon::drift_seen() {
    bool seen = false;
    for (const nl::KernelEvent& e : watch_.drain()) seen = seen || concerns_avpn(e, scope_);
    return seen;
}

void Daemon::retry_ipsec() {
    if (ipsec_.empty()) return;
    auto charon = cli::connect_charon(options_.vici_socket);
    if (!charon) return log("ipsec retry: " + charon.error().str());
    // Short: the daemon does nothing else meanwhile; a failure later than this
    // is seen at the next attempt.
    auto r = cli::retry_ipsec(**charon, ipsec_, options_.state_dir, retry_, 3);
    if (!r) return log("ipsec retry: " + r.error().str());
    for (const std::string& name : *r) {
        const auto& s = retry_.all().at(name);
        log("ipsec: " + name + " has no IKE_SA: initiated (attempt " + std::to_string(s.attempts) +
            "; next in " + std::to_string(s.next_at - int64_t(std::time(nullptr))) + " s if it stays down)");
    }
}

int Daemon::run() {
    log("managing " + intent_->site.name + " from " + options_.config + " (state " + options_.state_dir + ")");
    converge(true, "start");
    (void)watch_.drain();  // what the first apply itself caused
    const auto resync = std::chrono::seconds(options_.resync_seconds);
    const auto retry = std::chrono::seconds(10);
    auto next_full = Clock::now() + (last_ok_ ? resync : retry);
    const auto never = Clock::time_point::max();
    auto repair_at = never;  // a repair is due once the kernel has been quiet for quiet_ms
    // IPsec initiators are looked at every retry_first seconds (one list-sas);
    // those due are initiated (retry.hpp).
    const auto ipsec_every = std::chrono::seconds(options_.retry_first);
    auto next_ipsec = Clock::now() + ipsec_every;
    for (;;) {
        auto deadline = std::min({repair_at, next_full, ipsec_.empty() ? never : next_ipsec});
        auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd fds[3] = {{signal_fd_, POLLIN, 0}, {watch_.rtnl_fd(), POLLIN, 0}, {watch_.xfrm_fd(), POLLIN, 0}};
        int n = ::poll(fds, watch_.xfrm_fd() >= 0 ? 3 : 2, int(std::max<long long>(wait_ms, 0)));
        if (n < 0 && errno != EINTR) return log(std::string("poll: ") + std::strerror(errno)), 1;
        if (fds[0].revents & POLLIN) {
            if (!handle_signals()) break;
            (void)watch_.drain();  // our own writes (and anything else in that instant: the resync catches it)
        }
        if (drift_seen() && repair_at == never) repair_at = Clock::now() + std::chrono::milliseconds(options_.quiet_ms);
        auto now = Clock::now();
        if (now >= repair_at || now >= next_full) {
            bool drift = now >= repair_at;
            converge(true, drift ? "kernel changed by another process" : "periodic resync");
            (void)watch_.drain();
            repair_at = never;
            next_full = Clock::now() + (last_ok_ ? resync : retry);
        }
        if (!ipsec_.empty() && Clock::now() >= next_ipsec) {
            retry_ipsec();
            next_ipsec = Clock::now() + ipsec_every;
        }
    }
    // Nobody retries once avpnd is gone: status must not promise an attempt.
    ::unlink(cli::retries_path(options_.state_dir).c_str());
    log("stopping; tunnels stay up (avpnctl down removes them)");
    return 0;
}

}  // namespace avpn::daemon
