// avpnctl apply FILE [--dry-run] [--json] [--state-dir DIR] [--vici-socket PATH]
// [--settle SECONDS]: make the kernel and charon match the site's plan, all or
// nothing as far as charon allows (site_apply.hpp says in which order).
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/report/command_output.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::cli {

namespace {

struct ApplyArgs {
    std::string file;
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    int settle = 10;
    bool dry_run = false;
    bool json = false;
};

int run_apply(const ApplyArgs& a) {
    Loaded l = load_site_file(a.file, runtime::LoadFor::apply, a.json);
    if (l.exit_code != kOk) return l.exit_code;
    const Intent& intent = *l.intent;

    StateDir state(a.state_dir);
    if (!a.dry_run)
        if (Status s = state.lock(); !s) return report_failure("apply", s.error());
    auto last = state.load();
    if (!last) return report_failure("apply", last.error());

    auto port = NetlinkPort::open({});
    if (!port) return report_failure("apply", port.error());

    PlanInputs inputs;
    inputs.uplink_addresses = (*port)->interface_addresses(runtime::uplinks_of(intent));
    PlanOutcome planned = plan(intent, inputs);
    if (!planned.ok()) return print(report::plan_errors(planned.errors));

    runtime::SiteApplyOptions o{a.file, a.state_dir, a.vici_socket, a.settle, a.dry_run};
    KernelPort& kernel_port = **port;
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) {
        return apply(d, scope, kernel_port, a.dry_run);
    };
    runtime::SiteApplyResult r = runtime::apply_site(intent, planned.state, *last, kernel_port, kernel, o);
    report::Printed p = report::apply_output("apply", r, a.json, a.dry_run);
    if (p.exit == kOk && !a.dry_run)
        if (Status s = runtime::save_applied(state, r.record, a.file); !s) report::add_failure(p, "apply", s.error());
    return print(p);
}

}  // namespace

Handler setup_apply(CLI::App& sub) {
    auto a = std::make_shared<ApplyArgs>();
    sub.add_option("FILE", a->file, "site configuration (site.toml)")->required();
    sub.add_flag("--dry-run", a->dry_run, "show the ops, change nothing");
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.apply/1, docs/cli.md)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket (only used with [[ipsec]] tunnels)")
        ->capture_default_str();
    sub.add_option("--settle", a->settle, "seconds to wait for new IPsec initiators to come up or fail")
        ->capture_default_str()
        ->check(CLI::Range(0, 120));
    return [a] { return run_apply(*a); };
}

}  // namespace avpn::cli
