// avpnctl down [--json] [--state-dir DIR] [--vici-socket PATH]: remove every
// kernel object and charon connection avpn owns, and nothing else. Works
// without a config file: ownership comes from avpn's markers and the state
// directory (the connections the last apply loaded, all carrying avpn-).
//
// charon first: its SAs of a route-based tunnel carry the if_id of an XFRM
// interface the kernel step deletes. A charon that is not running holds no
// connections, so "cannot connect" is a note, not a failure.
#include <unistd.h>

#include <iostream>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/runtime/scope.hpp"

namespace avpn::cli {

namespace {

struct DownArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    bool json = false;
};

bool charon_not_running(const Error& e) {
    return e.why.find("No such file") != std::string::npos || e.why.find("refused") != std::string::npos;
}

int run_down(const DownArgs& a) {
    StateDir state(a.state_dir);
    if (Status s = state.lock(); !s) return report_failure("down", s.error());
    auto last = state.load();
    if (!last) return report_failure("down", last.error());

    runtime::IpsecOutcome ipsec;
    if (!last->ipsec_connections.empty()) {
        auto charon = runtime::connect_charon(a.vici_socket);
        if (charon) {
            ipsec = runtime::down_ipsec(**charon, last->ipsec_connections);
            if (ipsec.failure) {
                std::cout << (a.json ? render_apply_json(ApplyReport{}, false, &ipsec)
                                     : render_apply_text(ApplyReport{}, false, &ipsec));
                return report_failure("down", *ipsec.failure);  // state kept: the next down retries
            }
        } else if (charon_not_running(charon.error())) {
            std::cerr << "avpnctl down: note: " << charon.error().str() << ": nothing loaded there\n";
        } else {
            return report_failure("down", charon.error());
        }
    }

    auto port = NetlinkPort::open({});
    if (!port) return report_failure("down", port.error());
    ApplyReport report = apply(nl::KernelState{}, last->owned, **port, false);
    std::cout << (a.json ? render_apply_json(report, false, &ipsec) : render_apply_text(report, false, &ipsec));
    if (report.failure) return kFailed;
    if (Status s = state.clear(); !s) return report_failure("down", s.error());
    for (const std::string& f :
         {runtime::fingerprints_path(a.state_dir), runtime::failures_path(a.state_dir), runtime::retries_path(a.state_dir)})
        ::unlink(f.c_str());
    return kOk;
}

}  // namespace

Handler setup_down(CLI::App& sub) {
    auto a = std::make_shared<DownArgs>();
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.apply/1)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket (only used if avpn loaded connections)")
        ->capture_default_str();
    return [a] { return run_down(*a); };
}

}  // namespace avpn::cli
