// What avpnd does for each control request, and what it answers: the same
// bytes the one-shot avpnctl prints (orchestrator/report), plus the notes
// that only exist with a daemon (a trial awaiting its confirm).
#include <ctime>

#include "orchestrator/report/command_output.hpp"
#include "orchestrator/report/render_rekey.hpp"
#include "orchestrator/report/render_status.hpp"
#include "orchestrator/runtime/site_view.hpp"
#include "orchestrator/runtime/control_server.hpp"

namespace avpn::runtime {

using control::Command;
using control::Request;
using report::Printed;

namespace {

std::string or_nothing(const std::optional<ConfigSnapshot>& s) { return s ? s->path : "nothing applied"; }

}  // namespace

Printed ControlServer::run(const Request& r, Site& site) {
    switch (r.command) {
        case Command::apply: return apply(r, site);
        case Command::down: return down(r, site);
        case Command::status: return status(r, site);
        case Command::reload: return reload(r, site);
        case Command::confirm: return confirm();
        case Command::rekey: return report::rekey_output(site.rekey(r.group, r.peer), r.json);
    }
    return report::failure("control", Error{"unknown command", "", ""});
}

Printed ControlServer::apply(const Request& r, Site& site) {
    if (const PendingConfirm* p = confirm_.pending())
        return Printed{"",
                       "avpnctl apply: " + p->config + " awaits its confirm until " + report::clock_time(p->deadline) +
                           ": `avpnctl confirm` it, or wait for the rollback, before applying again\n",
                       report::kBusy};
    std::optional<ConfigSnapshot> previous = site.running();
    ChangeReport c = site.apply_file(r.config, r.settle);
    Printed p = report::diagnostics(c.loaded, r.json);
    if (!c.converge) return p;
    report::append(p, report::converge_output("apply", *c.converge, r.json));
    if (c.ok() && r.confirm_seconds > 0) {
        std::string back = or_nothing(previous);
        confirm_.arm(std::chrono::seconds(r.confirm_seconds), r.config, std::move(previous));
        std::string deadline = report::clock_time(confirm_.pending()->deadline);
        p.err += "avpnctl apply: on trial: run `avpnctl confirm` by " + deadline + " (in " +
                 std::to_string(r.confirm_seconds) + " s), or avpnd rolls back to " + back + "\n";
        log_("commit-confirm: " + r.config + " applied on trial until " + deadline + "; else back to " + back);
    }
    return p;
}

Printed ControlServer::down(const Request& r, Site& site) {
    Printed p;
    if (std::optional<PendingConfirm> cancelled = confirm_.cancel()) {
        p.err = "avpnctl down: the trial of " + cancelled->config + " ends: nothing will be rolled back\n";
        log_("commit-confirm: the trial of " + cancelled->config + " ends with down");
    }
    report::append(p, report::down_output(site.down(), r.json));
    return p;
}

Printed ControlServer::status(const Request& r, Site& site) {
    const SiteOptions& o = site.options();
    auto s = gather_status(o.state_dir, o.vici_socket, r.listen);
    if (!s) return report::failure("status", s.error());
    // Peers by name from the committed plan, with the devices just read.
    std::map<std::string, wg::WgDeviceStatus> devices;
    for (const WgGroupStatus& g : s->wireguard) devices.emplace(g.ifname, g.status);
    s->peers = site_peer_rows(site, devices);
    DaemonFacts f = facts(site);
    return report::status_output(*s, &f, r.json);
}

// SIGHUP's reload; a trial awaiting its confirm keeps its deadline and its
// rollback target (the reloaded file is still the trial).
Printed ControlServer::reload(const Request& r, Site& site) {
    ChangeReport c = site.reload_report();
    Printed p = report::diagnostics(c.loaded, r.json);
    if (c.converge) report::append(p, report::converge_output("reload", *c.converge, r.json));
    return p;
}

Printed ControlServer::confirm() {
    std::optional<PendingConfirm> p = confirm_.cancel();
    if (!p) return Printed{"", "avpnctl confirm: no apply awaits a confirm\n", report::kFailed};
    int64_t left = p->deadline - int64_t(std::time(nullptr));
    log_("commit-confirm: " + p->config + " confirmed " + std::to_string(left) + " s before the deadline");
    return Printed{"confirmed: " + p->config + " stays applied\n", "", report::kOk};
}

}  // namespace avpn::runtime
