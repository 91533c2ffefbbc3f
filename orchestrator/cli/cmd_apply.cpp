// avpnctl apply FILE [--dry-run] [--json] [--confirm DURATION] [--state-dir DIR]
// [--vici-socket PATH] [--settle SECONDS] [--control-socket PATH]: make the
// kernel and charon match the site's plan, all or nothing as far as charon
// allows (site_apply.hpp says in which order).
//
// When avpnd answers on the control socket, the apply is avpnd's: it makes
// FILE its configuration and converges in full, and answers with the report
// printed here (identical to the one-shot's). --confirm DURATION applies on
// trial, which only avpnd can hold: it rolls back unless `avpnctl confirm`
// comes in time. --dry-run stays local: it changes nothing.
//
// Without avpnd a site with an XFRM group is refused before anything is
// touched (exit 7, naming the group and where its transport is set): the
// group's ESP-in-UDP socket must outlive the apply, and only avpnd holds it.
#include <filesystem>
#include <memory>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/control_client.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/config/values.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/report/command_output.hpp"
#include "orchestrator/runtime/journal_recovery.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::cli {

namespace {

struct ApplyArgs {
    std::string file;
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    std::string control_socket = control::kDefaultSocket;
    std::string confirm;  // a duration: "90s", "2m"
    int settle = 10;
    bool dry_run = false;
    bool json = false;
};

int run_one_shot(const ApplyArgs& a) {
    Loaded l = load_site_file(a.file, runtime::LoadFor::apply, a.json);
    if (l.exit_code != kOk) return l.exit_code;
    // An XFRM group's ESP-in-UDP socket must be held after this process
    // exits: only avpnd can, so the one-shot touches nothing (a dry run
    // changes nothing and goes ahead).
    if (!a.dry_run && !l.needs_daemon.empty()) return print(needs_avpnd("apply", a.control_socket, l.needs_daemon));
    const Intent& intent = *l.intent;

    StateDir state(a.state_dir);
    if (!a.dry_run)
        if (Status s = state.lock(); !s) return report_lock_failure("apply", s.error());
    auto last = state.load();
    if (!last) return report_failure("apply", last.error());

    NetlinkPortOptions port_options;
    if (!a.dry_run) port_options.before_create_link = runtime::journal_links_in(a.state_dir);
    auto port = NetlinkPort::open(std::move(port_options));
    if (!port) return report_failure("apply", port.error());

    auto inputs = runtime::read_plan_inputs(intent, **port);
    if (!inputs) return report_failure("apply", inputs.error());  // before anything is written
    PlanOutcome planned = plan(intent, *inputs);
    if (!planned.ok()) return print(report::plan_errors(planned.errors));

    auto firewall = fw::NftTable::open();
    if (!firewall) return report_failure("apply", firewall.error());
    runtime::SiteApplyOptions o{a.file, a.state_dir, a.vici_socket, a.settle, a.dry_run};
    o.firewall = firewall->get();
    KernelPort& kernel_port = **port;
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) {
        return apply(d, scope, kernel_port, a.dry_run);
    };
    if (!a.dry_run) o.save = [&](const AppliedRecord& rec) { return runtime::save_applied(state, rec, a.file); };
    runtime::SiteApplyResult r = runtime::apply_site(intent, planned.state, *last, kernel_port, kernel, o);
    return print(report::apply_output("apply", r, a.json, a.dry_run));
}

// Seconds of --confirm, or 0 after printing why it is not a duration in bounds.
int confirm_seconds(const std::string& text) {
    auto d = config::parse_duration(text);
    if (!d || d->count() < control::kMinConfirmSeconds || d->count() > control::kMaxConfirmSeconds) {
        print(report::Printed{"", "avpnctl apply: --confirm '" + text + "': a duration of 10s..1h, e.g. 90s, 2m\n",
                              kUsage});
        return 0;
    }
    return int(d->count());
}

int run_apply(const ApplyArgs& a) {
    if (a.dry_run) return run_one_shot(a);  // changes nothing: no need to ask avpnd
    control::Request r;
    r.command = control::Command::apply;
    r.json = a.json;
    r.settle = a.settle;
    if (!a.confirm.empty() && !(r.confirm_seconds = confirm_seconds(a.confirm))) return kUsage;
    // avpnd resolves nothing against avpnctl's working directory.
    std::error_code ec;
    std::filesystem::path path = std::filesystem::absolute(a.file, ec);
    if (ec) return report_failure("apply", Error{"resolve the path", a.file, ec.message()});
    r.config = path.lexically_normal().string();
    DaemonConnection avpnd(a.control_socket, "apply");
    switch (avpnd.state()) {
        case DaemonConnection::State::connected: return print(avpnd.ask(r));
        case DaemonConnection::State::failed: return print(avpnd.failure());
        case DaemonConnection::State::no_daemon: break;
    }
    if (r.confirm_seconds) return print(needs_avpnd("apply", a.control_socket, "--confirm (a rollback later)"));
    return run_one_shot(a);
}

}  // namespace

Handler setup_apply(Options& sub) {
    auto a = std::make_shared<ApplyArgs>();
    sub.positional("FILE", a->file, "site configuration (site.toml)", Need::required);
    sub.flag("--dry-run", a->dry_run, "show the ops, change nothing");
    sub.flag("--json", a->json, "machine-readable output (schema avpn.apply/1, docs/cli.md)");
    sub.option("--confirm", a->confirm,
               "apply through avpnd on trial: rolled back after DURATION (10s..1h) unless `avpnctl confirm`",
               Default::hidden);
    sub.excludes("--confirm", "--dry-run");
    sub.option("--state-dir", a->state_dir, "state directory (one-shot; avpnd uses its own)", Default::shown);
    sub.option("--vici-socket", a->vici_socket, "charon's vici socket (only used with [[ipsec]] tunnels)",
               Default::shown);
    sub.option("--settle", a->settle, "seconds to wait for new IPsec initiators to come up or fail", 0, 120);
    sub.option("--control-socket", a->control_socket, "avpnd's control socket", Default::shown);
    return [a] { return run_apply(*a); };
}

}  // namespace avpn::cli
