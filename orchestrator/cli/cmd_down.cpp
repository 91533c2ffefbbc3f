// avpnctl down [--json] [--force-scan] [--state-dir DIR] [--vici-socket PATH]
// [--control-socket PATH]: remove every kernel object and charon connection
// avpn owns, and nothing else (runtime/down.hpp). Through avpnd when it
// answers: avpnd removes them and then stays up with nothing applied until
// the next `avpnctl apply` or `reload`.
//
// --force-scan is the recovery from a damaged record (the error of any
// apply or down names it): the kernel's markers alone say what goes, and the
// record goes too. Always one-shot: the avpnd whose record is damaged cannot
// apply either, and holds the writer lock until it is stopped (exit 4 names it).
#include <memory>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/control_client.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/report/command_output.hpp"
#include "orchestrator/runtime/down.hpp"
#include "orchestrator/runtime/journal_recovery.hpp"

namespace avpn::cli {

namespace {

struct DownArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    std::string control_socket = control::kDefaultSocket;
    bool json = false;
    bool force_scan = false;
};

int run_one_shot(const DownArgs& a) {
    StateDir state(a.state_dir);
    if (Status s = state.lock(); !s) return report_lock_failure("down", s.error());
    // A failed down undoes its deletes: a link it creates again is noted.
    auto port = NetlinkPort::open({.before_create_link = runtime::journal_links_in(a.state_dir)});
    if (!port) return report_failure("down", port.error());
    auto firewall = fw::NftTable::open();
    if (!firewall) return report_failure("down", firewall.error());
    return print(report::down_output(runtime::down_site(state, a.vici_socket, **port, firewall->get(), a.force_scan),
                                     a.json));
}

int run_down(const DownArgs& a) {
    if (a.force_scan) return run_one_shot(a);
    DaemonConnection avpnd(a.control_socket, "down");
    switch (avpnd.state()) {
        case DaemonConnection::State::connected: {
            control::Request r;
            r.command = control::Command::down;
            r.json = a.json;
            return print(avpnd.ask(r));
        }
        case DaemonConnection::State::failed: return print(avpnd.failure());
        case DaemonConnection::State::no_daemon: break;
    }
    return run_one_shot(a);
}

}  // namespace

Handler setup_down(Options& sub) {
    auto a = std::make_shared<DownArgs>();
    sub.flag("--json", a->json, "machine-readable output (schema avpn.apply/1)");
    sub.flag("--force-scan", a->force_scan,
             "ignore a damaged state record: remove what the kernel marks as avpn's, then the record (one-shot)");
    sub.option("--state-dir", a->state_dir, "state directory (one-shot; avpnd uses its own)", Default::shown);
    sub.option("--vici-socket", a->vici_socket, "charon's vici socket (only used if avpn loaded connections)",
               Default::shown);
    sub.option("--control-socket", a->control_socket, "avpnd's control socket", Default::shown);
    return [a] { return run_down(*a); };
}

}  // namespace avpn::cli
