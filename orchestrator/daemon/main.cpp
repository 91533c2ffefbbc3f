// avpnd FILE [--state-dir DIR] [--vici-socket PATH] [--resync SECONDS]
// [--settle SECONDS] [--retry-first SECONDS] [--retry-max SECONDS] [--quiet-ms MS]: keeps the site of FILE converged
// (daemon.hpp). Logs to stderr, one line per event, for the journal.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <iostream>

#include "orchestrator/daemon/daemon.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "plugins/vici/client.hpp"

int main(int argc, char** argv) {
    avpn::daemon::Options o;
    o.state_dir = avpn::kDefaultStateDir;
    o.vici_socket = std::string(avpn::vici::kDefaultSocket);
    CLI::App app{"avpnd: keeps an avpn site converged"};
    app.add_option("FILE", o.config, "site configuration (site.toml)")->required();
    app.add_option("--state-dir", o.state_dir, "state directory (locked while avpnd runs)")->capture_default_str();
    app.add_option("--vici-socket", o.vici_socket, "charon's vici socket (only used with [[ipsec]] tunnels)")
        ->capture_default_str();
    app.add_option("--resync", o.resync_seconds, "seconds between full applies (drift backstop)")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    app.add_option("--settle", o.settle_seconds, "seconds to wait for new IPsec initiators")
        ->capture_default_str()
        ->check(CLI::Range(0, 120));
    app.add_option("--retry-first", o.retry_first,
                   "seconds between re-initiations of an IPsec initiator that has no IKE_SA, at first")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    app.add_option("--retry-max", o.retry_max, "... doubling up to this many seconds, forever")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    app.add_option("--quiet-ms", o.quiet_ms, "after a foreign kernel change, wait this long for more before repairing")
        ->capture_default_str()
        ->check(CLI::Range(0, 60000));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    // A log reader that goes away (a journal restart, a closed pipe) must not
    // take the daemon with it: writes then fail with EPIPE instead.
    signal(SIGPIPE, SIG_IGN);
    auto d = avpn::daemon::Daemon::start(o);
    if (!d) {
        std::cerr << "avpnd: " << d.error().str() << "\n";
        return d.error().what == "locked" ? 4 : 1;
    }
    return (*d)->run();
}
