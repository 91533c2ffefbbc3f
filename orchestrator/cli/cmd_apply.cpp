// avpnctl apply FILE [--dry-run] [--json] [--state-dir DIR] [--vici-socket PATH]
// [--settle SECONDS]: make the kernel and charon match the site's plan, all or
// nothing as far as charon allows.
//
// Order: everything that can fail without touching anything first (PSK
// files, load-conn mapping, charon reachable), then the kernel (it has a
// journal), then charon (it has none). If charon refuses a connection, the
// connections this apply added are unloaded again and the kernel part is
// rolled back from the journal. Kernel first also means an XFRM interface
// exists before charon installs SAs carrying its if_id.
#include <fstream>
#include <iostream>
#include <sstream>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/ipsec_runtime.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/site_runtime.hpp"
#include "orchestrator/plan/planner.hpp"

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

    // charon is needed only when the site has tunnels, or had some to unload.
    const std::vector<vici::Connection>& conns = planned.state.ipsec;
    std::vector<std::string> unreachable_leftovers;
    std::unique_ptr<vici::Client> charon;
    if (!conns.empty())
        if (Status s = preflight_ipsec(conns); !s) return report_failure("apply", s.error());
    if (!conns.empty() || !last->ipsec_connections.empty()) {
        auto c = connect_charon(a.vici_socket);
        if (c) {
            charon = std::move(*c);
        } else if (!conns.empty()) {
            return report_failure("apply", c.error());  // nothing was changed
        } else {
            std::cerr << "avpnctl apply: warning: " << c.error().str()
                      << ": avpn's earlier connections stay recorded for the next apply or down\n";
            unreachable_leftovers = last->ipsec_connections;
        }
    }

    ApplyReport report = apply(planned.state, scope_of(planned.state, *last), **port, a.dry_run);
    IpsecOutcome ipsec;
    if (!report.failure && charon) {
        ipsec = apply_ipsec(*charon, conns, state.path(), a.settle, a.dry_run);
        if (ipsec.failure && !a.dry_run) {
            ipsec.kernel_undo_errors = roll_back(report, **port);
            ipsec.kernel_rolled_back = true;
            report.applied = false;
        }
    }
    std::cout << (a.json ? render_apply_json(report, a.dry_run, &ipsec) : render_apply_text(report, a.dry_run, &ipsec));
    for (const std::string& w : ipsec.warnings) std::cerr << "avpnctl apply: warning: " << w << "\n";
    if (report.failure || ipsec.failure) return kFailed;
    if (a.dry_run) return kOk;

    AppliedRecord rec;
    rec.site = intent.site.name;
    rec.config_path = a.file;
    rec.owned = owned_by(planned.state);
    for (const vici::Connection& c : conns) rec.ipsec_connections.push_back(c.name);
    for (const std::string& n : unreachable_leftovers) rec.ipsec_connections.push_back(n);
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
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket (only used with [[ipsec]] tunnels)")
        ->capture_default_str();
    sub.add_option("--settle", a->settle, "seconds to wait for new IPsec initiators to come up or fail")
        ->capture_default_str()
        ->check(CLI::Range(0, 120));
    return [a] { return run_apply(*a); };
}

}  // namespace avpn::cli
