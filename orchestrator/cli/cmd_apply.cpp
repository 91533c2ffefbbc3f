// avpnctl apply FILE [--dry-run] [--json] [--state-dir DIR]: make the kernel
// match the site's plan, all or nothing.
#include <fstream>
#include <iostream>
#include <sstream>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/site_runtime.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::cli {

namespace {

struct ApplyArgs {
    std::string file;
    std::string state_dir = kDefaultStateDir;
    bool dry_run = false;
    bool json = false;
};

std::vector<std::string> uplinks_of(const Intent& in) {
    std::vector<std::string> out;
    for (const Uplink& u : in.site.uplinks) out.push_back(u.interface);
    for (const IpsecTunnel& t : in.ipsec)
        if (!t.uplink.empty()) out.push_back(t.uplink);
    return out;
}

int run_apply(const ApplyArgs& a) {
    Loaded l = load_site_file(a.file, false, a.json);
    if (l.exit_code != kOk) return l.exit_code;
    const Intent& intent = *l.intent;

    StateDir state(a.state_dir);
    if (!a.dry_run)
        if (Status s = state.lock(); !s) return report_failure("apply", s.error());
    auto last = state.load();
    if (!last) return report_failure("apply", last.error());

    auto port = open_kernel_port(&intent);
    if (!port) return report_failure("apply", port.error());

    PlanInputs inputs;
    inputs.uplink_addresses = (*port)->interface_addresses(uplinks_of(intent));
    PlanOutcome planned = plan(intent, inputs);
    if (!planned.ok()) {
        for (const Error& e : planned.errors) std::cerr << e.str() << "\n";
        return kInvalid;
    }

    ApplyReport report = apply(planned.state, scope_of(planned.state, *last), **port, a.dry_run);
    std::cout << (a.json ? render_apply_json(report, a.dry_run) : render_apply_text(report, a.dry_run));
    if (report.failure) return kFailed;
    if (a.dry_run) return kOk;

    AppliedRecord rec;
    rec.site = intent.site.name;
    rec.config_path = a.file;
    rec.owned = owned_by(planned.state);
    std::ifstream in(a.file);
    std::stringstream text;
    text << in.rdbuf();
    if (Status s = state.save(rec, text.str()); !s) return report_failure("apply", s.error());
    return kOk;
}

}  // namespace

Handler setup_apply(CLI::App& sub) {
    auto a = std::make_shared<ApplyArgs>();
    sub.add_option("FILE", a->file, "site configuration (site.toml)")->required();
    sub.add_flag("--dry-run", a->dry_run, "show the ops, change nothing");
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.apply/1, docs/cli.md)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    return [a] { return run_apply(*a); };
}

}  // namespace avpn::cli
