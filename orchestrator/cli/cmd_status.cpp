// avpnctl status [--json] [--state-dir DIR] [--vici-socket PATH] [--listen S]
// [--control-socket PATH]: the state of the site's interop tunnels as charon
// reports them (list-sas), with the last failure in words, and its
// WireGuard peers (runtime/status.hpp gathers, report/render_status.hpp
// prints). Failures are events of one moment: apply records those it sees
// while settling, and --listen S watches charon's log for S seconds now;
// both go to the state directory (docs/vici.md).
//
// Through avpnd when it answers (which also lets members of its control
// group see it without reading root's state directory): the same report
// from avpnd's state directory and charon socket, plus avpnd's own facts
// (its config, last converge, a pending confirm, the last rollback). avpnd
// serves one request at a time, so --listen is at most 10 s there.
#include <memory>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/control_client.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/report/render_status.hpp"
#include "orchestrator/runtime/status.hpp"

namespace avpn::cli {

namespace {

struct StatusArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    std::string control_socket = control::kDefaultSocket;
    int listen = 0;
    bool json = false;
};

int run_status(const StatusArgs& a) {
    DaemonConnection avpnd(a.control_socket, "status");
    switch (avpnd.state()) {
        case DaemonConnection::State::connected: {
            if (a.listen > control::kMaxListenSeconds)
                return print(report::Printed{"", "avpnctl status: --listen is at most " +
                                                     std::to_string(control::kMaxListenSeconds) +
                                                     " s through avpnd (it serves one request at a time)\n",
                                             kUsage});
            control::Request r;
            r.command = control::Command::status;
            r.json = a.json;
            r.listen = a.listen;
            return print(avpnd.ask(r));
        }
        case DaemonConnection::State::failed: return print(avpnd.failure());
        case DaemonConnection::State::no_daemon: break;
    }
    auto s = runtime::gather_status(a.state_dir, a.vici_socket, a.listen);
    if (!s) return report_failure("status", s.error());
    if (!s->last.config_path.empty()) {
        auto rows = runtime::planned_peer_rows(s->last.config_path, s->wireguard);
        if (rows) s->peers = std::move(*rows);
        else s->peers_error = rows.error();
    }
    return print(report::status_output(*s, nullptr, a.json));
}

}  // namespace

Handler setup_status(Options& sub) {
    auto a = std::make_shared<StatusArgs>();
    sub.flag("--json", a->json, "machine-readable output (schema avpn.status/1, docs/cli.md)");
    sub.option("--state-dir", a->state_dir, "state directory (one-shot; avpnd uses its own)", Default::shown);
    sub.option("--vici-socket", a->vici_socket, "charon's vici socket", Default::shown);
    sub.option("--listen", a->listen, "watch charon's log this many seconds for failures first (avpnd: at most 10)", 0,
               600);
    sub.option("--control-socket", a->control_socket, "avpnd's control socket", Default::shown);
    return [a] { return run_status(*a); };
}

}  // namespace avpn::cli
