#include "orchestrator/daemon/daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

namespace avpn::daemon {

namespace {

using Clock = std::chrono::steady_clock;

void log(const std::string& line) { std::cerr << "avpnd: " << line << std::endl; }

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Options& o) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Error{"start", "signals", std::strerror(errno)};
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return Error{"start", "signalfd", std::strerror(errno)};
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
    return std::unique_ptr<Daemon>(new Daemon(o, std::move(*site), std::move(*watch), sfd));
}

Daemon::Daemon(const Options& o, std::unique_ptr<runtime::Site> site, nl::Watch watch, int signal_fd)
    : options_(o), site_(std::move(site)), watch_(std::move(watch)), signal_fd_(signal_fd) {}

Daemon::~Daemon() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
}

bool Daemon::handle_signals() {
    signalfd_siginfo info;
    bool keep = true;
    while (::read(signal_fd_, &info, sizeof info) == ssize_t(sizeof info)) {
        if (info.ssi_signo == SIGHUP) {
            if (site_->reload())
                site_->converge(false, "configuration reloaded");
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
    for (const nl::KernelEvent& e : watch_.drain()) seen = seen || runtime::concerns_avpn(e, site_->watch_scope());
    return seen;
}

int Daemon::run() {
    const runtime::SiteOptions& so = site_->options();
    log("managing " + site_->intent().site.name + " from " + so.config + " (state " + so.state_dir + ")");
    site_->converge(true, "start");
    (void)watch_.drain();  // what the first apply itself caused
    const auto resync = std::chrono::seconds(options_.resync_seconds);
    const auto retry = std::chrono::seconds(10);
    auto next_full = Clock::now() + (site_->last_ok() ? resync : retry);
    const auto never = Clock::time_point::max();
    auto repair_at = never;  // a repair is due once the kernel has been quiet for quiet_ms
    // IPsec initiators are looked at every retry_first seconds (one list-sas);
    // those due are initiated (retry.hpp).
    const auto ipsec_every = std::chrono::seconds(so.retry_first);
    auto next_ipsec = Clock::now() + ipsec_every;
    for (;;) {
        auto deadline = std::min({repair_at, next_full, site_->has_ipsec() ? next_ipsec : never});
        auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd fds[4] = {{signal_fd_, POLLIN, 0}, {watch_.rtnl_fd(), POLLIN, 0}, {watch_.xfrm_fd(), POLLIN, 0},
                         {site_->wireguard_go_fd(), POLLIN, 0}};  // poll() skips an xfrm_fd of -1
        int n = ::poll(fds, 4, int(std::max<long long>(wait_ms, 0)));
        if (n < 0 && errno != EINTR) return log(std::string("poll: ") + std::strerror(errno)), 1;
        if (fds[0].revents & POLLIN) {
            if (!handle_signals()) break;
            (void)watch_.drain();  // our own writes (and anything else in that instant: the resync catches it)
        }
        bool wireguard_go_exited = (fds[3].revents & POLLIN) && site_->reap_wireguard_go();
        if ((drift_seen() || wireguard_go_exited) && repair_at == never) repair_at = Clock::now() + std::chrono::milliseconds(options_.quiet_ms);
        auto now = Clock::now();
        if (now >= repair_at || now >= next_full) {
            bool drift = now >= repair_at;
            site_->converge(true, drift ? "kernel changed by another process" : "periodic resync");
            (void)watch_.drain();
            repair_at = never;
            next_full = Clock::now() + (site_->last_ok() ? resync : retry);
        }
        if (site_->has_ipsec() && Clock::now() >= next_ipsec) {
            site_->retry_ipsec();
            next_ipsec = Clock::now() + ipsec_every;
        }
    }
    site_->forget_retries();
    log("stopping; tunnels stay up (avpnctl down removes them)");
    return 0;
}

}  // namespace avpn::daemon
