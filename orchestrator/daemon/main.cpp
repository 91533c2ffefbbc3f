// avpnd FILE [--state-dir DIR] [--vici-socket PATH] [--resync SECONDS]
// [--settle SECONDS] [--retry-first SECONDS] [--retry-max SECONDS]
// [--quiet-ms MS] [--wireguard-poll-ms MS] [--control-socket PATH]
// [--control-group NAME]: keeps the site of FILE converged and serves
// avpnctl on its control socket (daemon.hpp). Logs to stderr, one line per
// event, for the journal; talks to systemd when it runs under Type=notify
// (sd_notify.hpp).
// Arguments are parsed with getopt_long: avpnd links the runtime, not the
// CLI (avpnctl's parser and commands stay out of the long-lived process).
#include <getopt.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "orchestrator/control/protocol.hpp"
#include "orchestrator/daemon/daemon.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "plugins/vici/client.hpp"

namespace {

constexpr const char* kUsage =
    "Usage: avpnd FILE [options]\n"
    "avpnd: keeps an avpn site converged\n\n"
    "  FILE                  site configuration (site.toml)\n"
    "  --state-dir DIR       state directory, locked while avpnd runs [/var/lib/avpn]\n"
    "  --vici-socket PATH    charon's vici socket (only used with [[ipsec]] tunnels)\n"
    "  --resync SECONDS      seconds between full applies, the drift backstop [300] (1..86400)\n"
    "  --settle SECONDS      seconds to wait for new IPsec initiators [10] (0..120)\n"
    "  --retry-first SECONDS first wait between re-initiations of a down IPsec initiator [5] (1..3600)\n"
    "  --retry-max SECONDS   ... doubling up to this many seconds, forever [300] (1..86400)\n"
    "  --quiet-ms MS         after a foreign kernel change, wait this long for more [200] (0..60000)\n"
    "  --wireguard-poll-ms MS  read WireGuard devices back this often, 0: never [2000] (0..600000)\n"
    "  --control-socket PATH where avpnctl reaches avpnd [/run/avpn/avpnd.sock]\n"
    "  --control-group NAME  members of this group may use the control socket too (else root only)\n"
    "  --help, --version\n";

constexpr int kUsageExit = 2;

// Parses a whole decimal integer within [lo, hi]; false with a message otherwise.
bool parse_int(const char* name, const char* text, int lo, int hi, int& out) {
    int v = 0;
    const char* end = text + std::strlen(text);
    auto [p, ec] = std::from_chars(text, end, v);
    if (ec != std::errc() || p != end || v < lo || v > hi) {
        std::fprintf(stderr, "avpnd: --%s: '%s' is not a whole number in %d..%d\n", name, text, lo, hi);
        return false;
    }
    out = v;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    avpn::daemon::Options o;
    avpn::runtime::SiteOptions& s = o.site;
    s.state_dir = avpn::kDefaultStateDir;
    s.vici_socket = std::string(avpn::vici::kDefaultSocket);
    o.control.path = avpn::control::kDefaultSocket;
    enum {
        kStateDir = 256, kVici, kResync, kSettle, kRetryFirst, kRetryMax, kQuietMs, kWgPoll, kControl, kGroup, kHelp,
        kVersion
    };
    static const option longopts[] = {
        {"state-dir", required_argument, nullptr, kStateDir},  {"vici-socket", required_argument, nullptr, kVici},
        {"resync", required_argument, nullptr, kResync},       {"settle", required_argument, nullptr, kSettle},
        {"retry-first", required_argument, nullptr, kRetryFirst}, {"retry-max", required_argument, nullptr, kRetryMax},
        {"quiet-ms", required_argument, nullptr, kQuietMs},    {"control-socket", required_argument, nullptr, kControl},
        {"control-group", required_argument, nullptr, kGroup}, {"help", no_argument, nullptr, kHelp},
        {"version", no_argument, nullptr, kVersion},           {"wireguard-poll-ms", required_argument, nullptr, kWgPoll},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1;) {
        bool ok = true;
        switch (c) {
            case kStateDir: s.state_dir = optarg; break;
            case kVici: s.vici_socket = optarg; break;
            case kResync: ok = parse_int("resync", optarg, 1, 86400, o.resync_seconds); break;
            case kSettle: ok = parse_int("settle", optarg, 0, 120, s.settle_seconds); break;
            case kRetryFirst: ok = parse_int("retry-first", optarg, 1, 3600, s.retry_first); break;
            case kRetryMax: ok = parse_int("retry-max", optarg, 1, 86400, s.retry_max); break;
            case kQuietMs: ok = parse_int("quiet-ms", optarg, 0, 60000, o.quiet_ms); break;
            case kWgPoll: ok = parse_int("wireguard-poll-ms", optarg, 0, 600000, o.wireguard_poll_ms); break;
            case kControl: o.control.path = optarg; break;
            case kGroup: o.control.group = optarg; break;
            case 'h':
            case kHelp: std::fputs(kUsage, stdout); return 0;
            case kVersion: std::puts("avpnd " AVPN_VERSION); return 0;
            default:
                std::fprintf(stderr, "avpnd: unknown or incomplete option '%s'\n%s", argv[optind - 1], kUsage);
                return kUsageExit;
        }
        if (!ok) return kUsageExit;
    }
    if (optind != argc - 1) {
        std::fprintf(stderr, "avpnd: %s\n%s", optind == argc ? "FILE is required" : "only one FILE", kUsage);
        return kUsageExit;
    }
    s.config = argv[optind];
    // A log reader that goes away (a journal restart, a closed pipe) must not
    // take the daemon with it: writes then fail with EPIPE instead.
    signal(SIGPIPE, SIG_IGN);
    auto d = avpn::daemon::Daemon::start(o);
    if (!d) {
        std::cerr << "avpnd: " << d.error().str() << "\n";
        return avpn::lock_held_elsewhere(d.error()) ? 4 : 1;
    }
    return (*d)->run();
}
