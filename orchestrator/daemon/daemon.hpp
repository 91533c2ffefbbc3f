// avpnd's event loop: the wiring between the site runtime
// (orchestrator/runtime/site.hpp) and what happens to it:
// - start: a full apply;
// - SIGHUP: reload the config and converge (incrementally where it can);
// - kernel notifications about avpn's objects or uplinks from anyone else
//   (runtime/drift.hpp): a full apply after a short quiet period, which
//   repairs drift and re-reads uplink addresses;
// - every --resync seconds: a full apply, the backstop for anything no
//   notification reports;
// - every --retry-first seconds while the site has IPsec initiators: the
//   runtime's re-initiation round;
// - a wireguard-go of the site that exits: a full apply after the quiet
//   period, which restarts it (the runtime logs and counts it);
// - SIGTERM / SIGINT: exits, leaving tunnels up (`avpnctl down` removes
//   them), as networkd and charon do.
#pragma once

#include <memory>
#include <string>

#include "netlink/watch.hpp"
#include "orchestrator/runtime/site.hpp"

namespace avpn::daemon {

struct Options {
    runtime::SiteOptions site;
    int resync_seconds = 300;
    int quiet_ms = 200;  // after a foreign change, wait this long for more
};

class Daemon {
public:
    static Result<std::unique_ptr<Daemon>> start(const Options& options);
    ~Daemon();
    int run();  // until SIGTERM or SIGINT; the exit code

private:
    Daemon(const Options& o, std::unique_ptr<runtime::Site> site, nl::Watch watch, int signal_fd);

    bool handle_signals();  // false: stop
    bool drift_seen();      // drains the watch

    Options options_;
    std::unique_ptr<runtime::Site> site_;
    nl::Watch watch_;
    int signal_fd_ = -1;
};

}  // namespace avpn::daemon
