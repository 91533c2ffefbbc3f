#include "orchestrator/report/command_output.hpp"

#include "common/json.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "orchestrator/report/render_apply.hpp"

namespace avpn::report {

namespace {

void json_diagnostics(JsonWriter& w, std::string_view key, const Errors& list) {
    w.key(key).begin_array();
    for (const Error& e : list)
        w.begin_object().field("where", e.where).field("what", e.what).field("why", e.why).end_object();
    w.end_array();
}

std::string apply_report(const ApplyReport& kernel, bool dry_run, const runtime::IpsecOutcome* ipsec, bool json,
                         const runtime::FirewallOutcome* firewall = nullptr) {
    return json ? render_apply_json(kernel, dry_run, ipsec, firewall)
                : render_apply_text(kernel, dry_run, ipsec, firewall);
}

}  // namespace

void add_failure(Printed& p, std::string_view command, const Error& e) {
    p.err += "avpnctl " + std::string(command) + ": " + e.str() + "\n";
    p.exit = kFailed;
}

Printed failure(std::string_view command, const Error& e) {
    Printed p;
    add_failure(p, command, e);
    return p;
}

Printed lock_failure(std::string_view command, const Error& e) {
    Printed p = failure(command, e);
    if (lock_held_elsewhere(e)) p.exit = kBusy;
    return p;
}

void append(Printed& p, const Printed& more) {
    p.out += more.out;
    p.err += more.err;
    if (more.exit != kOk) p.exit = more.exit;
}

Printed diagnostics(const runtime::LoadedSite& site, bool json) {
    Printed p;
    const Errors& errors = site.errors;
    if (json && (!errors.empty() || !site.warnings.empty())) {
        JsonWriter w;
        w.begin_object().field("file", site.path).field("valid", errors.empty());
        json_diagnostics(w, "errors", errors);
        json_diagnostics(w, "warnings", site.warnings);
        w.end_object();
        (errors.empty() ? p.err : p.out) += w.str();
    } else {
        for (const Error& e : errors) p.err += format_diagnostic(e, Severity::error) + "\n";
        for (const Error& e : site.warnings) p.err += format_diagnostic(e, Severity::warning) + "\n";
    }
    if (!errors.empty()) {
        p.err += site.path + ": " + std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors") + "\n";
        p.exit = kInvalid;
    }
    return p;
}

Printed plan_errors(const Errors& errors) {
    Printed p;
    for (const Error& e : errors) p.err += e.str() + "\n";
    p.exit = kInvalid;
    return p;
}

Printed apply_output(std::string_view command, const runtime::SiteApplyResult& r, bool json, bool dry_run) {
    if (r.refused) return failure(command, *r.refused);
    Printed p;
    p.out = apply_report(r.kernel, dry_run, &r.ipsec, json, &r.firewall);
    for (const std::string& w : r.warnings) p.err += "avpnctl " + std::string(command) + ": warning: " + w + "\n";
    p.exit = r.ok() ? kOk : kFailed;
    // The firewall went first: its failure means nothing else was asked
    // (the report says so too, with its put-back's failure if any).
    if (r.firewall.failure) add_failure(p, command, *r.firewall.failure);
    if (r.record_failure) add_failure(p, command, *r.record_failure);
    return p;
}

Printed down_output(const runtime::DownReport& d, bool json) {
    Printed p;
    for (const std::string& n : d.notes) p.err += "avpnctl down: note: " + n + "\n";
    // charon's failure is said once, on stderr with what it means for the
    // down (d.failure); the text report keeps to what was done.
    const bool charon_failed = d.ipsec.failure.has_value();
    runtime::FirewallOutcome firewall;
    firewall.removed = d.firewall_removed;
    if (d.has_report)
        p.out = apply_report(d.kernel, false, json || !charon_failed ? &d.ipsec : nullptr, json, &firewall);
    if (d.failure) add_failure(p, "down", *d.failure);
    else if (d.kernel.failure) p.exit = kFailed;
    return p;
}

Printed converge_output(std::string_view command, const runtime::ConvergeReport& c, bool json) {
    if (!c.plan_errors.empty()) return plan_errors(c.plan_errors);
    if (c.applied) {
        return apply_output(command, *c.applied, json, false);
    }
    Printed p;
    p.out = apply_report(c.change, false, nullptr, json);
    p.exit = c.ok ? kOk : kFailed;
    return p;
}

}  // namespace avpn::report
