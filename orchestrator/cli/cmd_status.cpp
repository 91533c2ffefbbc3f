// avpnctl status [--json] [--state-dir DIR] [--vici-socket PATH] [--listen S]:
// the state of the site's interop tunnels as charon reports them (list-sas),
// with the last failure in words, and its WireGuard peers (runtime/status.hpp
// gathers, report/render_status.hpp prints). Failures are events of one
// moment: apply records those it sees while settling, and --listen S watches
// charon's log for S seconds now; both go to the state directory
// (docs/vici.md). Read-only towards the kernel and charon; takes no lock.
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/report/render_status.hpp"
#include "orchestrator/runtime/status.hpp"

namespace avpn::cli {

namespace {

struct StatusArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    int listen = 0;
    bool json = false;
};

int run_status(const StatusArgs& a) {
    auto s = runtime::gather_status(a.state_dir, a.vici_socket, a.listen);
    if (!s) return report_failure("status", s.error());
    return print(report::status_output(*s, nullptr, a.json));
}

}  // namespace

Handler setup_status(CLI::App& sub) {
    auto a = std::make_shared<StatusArgs>();
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.status/1, docs/cli.md)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket")->capture_default_str();
    sub.add_option("--listen", a->listen, "watch charon's log this many seconds for failures first")
        ->capture_default_str()
        ->check(CLI::Range(0, 600));
    return [a] { return run_status(*a); };
}

}  // namespace avpn::cli
