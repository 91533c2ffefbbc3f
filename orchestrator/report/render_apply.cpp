#include "orchestrator/report/render_apply.hpp"

#include <sstream>

#include "orchestrator/report/json_objects.hpp"

namespace avpn::report {

namespace {

void counts_json(JsonWriter& w, std::string_view key, const size_t (&per_kind)[kObjectKinds]) {
    w.key(key).begin_object();
    for (size_t k = 0; k < kObjectKinds; ++k) w.field(object_kind_name(k), uint64_t(per_kind[k]));
    w.end_object();
}

std::string counts_text(const char* verb, const size_t (&per_kind)[kObjectKinds]) {
    std::string s;
    for (size_t k = 0; k < kObjectKinds; ++k)
        if (per_kind[k]) s += (s.empty() ? "" : ", ") + std::to_string(per_kind[k]) + " " + std::string(object_kind_name(k));
    return s.empty() ? "" : std::string(verb) + " " + s;
}

void error_json_value(JsonWriter& w, const Error& e) {
    w.begin_object().field("what", e.what).field("where", e.where).field("why", e.why).end_object();
}

void error_json(JsonWriter& w, std::string_view key, const Error& e) {
    w.key(key);
    error_json_value(w, e);
}


std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

void ipsec_json(JsonWriter& w, const runtime::IpsecOutcome* ip) {
    w.key("ipsec");
    if (!ip || !ip->asked) {
        w.null();
        return;
    }
    w.begin_object().field("socket", ip->socket);
    w.field_strings("loaded", ip->report.loaded).field_strings("unchanged", ip->report.unchanged);
    w.field_strings("unloaded", ip->report.unloaded).field_strings("initiated", ip->report.initiated);
    w.key("errors").begin_array();
    for (const vici::ConnError& e : ip->report.errors) {
        w.begin_object().field("name", e.name).field("what", e.error.what).field("where", e.error.where);
        w.field("why", e.error.why).end_object();
    }
    w.end_array();
    w.key("error");
    if (ip->failure) error_json_value(w, *ip->failure);
    else w.null();
    w.field_strings("undone", ip->undone).field_strings("not_undone", ip->not_undone);
    w.field("kernel_rolled_back", ip->kernel_rolled_back);
    w.key("rollback_errors").begin_array();
    for (const Error& e : ip->undo_errors) error_json_value(w, e);
    for (const Error& e : ip->kernel_undo_errors) error_json_value(w, e);
    w.end_array();
    w.key("tunnels").begin_array();
    for (const vici::TunnelStatus& t : ip->tunnels) vici::to_json(w, t);
    w.end_array();
    w.end_object();
}

std::string ipsec_text(const runtime::IpsecOutcome& ip, bool dry_run) {
    std::ostringstream o;
    if (ip.failure || ip.charon_undone) {
        if (ip.failure) o << "ipsec failed: " << ip.failure->str() << "\n";
        if (!ip.undone.empty()) o << "undone in charon: " << joined(ip.undone) << "\n";
        for (const std::string& n : ip.not_undone) o << "not undone: " << n << "\n";
        for (const Error& e : ip.undo_errors) o << "ipsec rollback error: " << e.str() << "\n";
        if (ip.kernel_rolled_back) {
            if (ip.kernel_undo_errors.empty())
                o << "rolled back: the kernel is as it was before the apply\n";
            for (const Error& e : ip.kernel_undo_errors) o << "rollback error: " << e.str() << "\n";
        }
        return o.str();
    }
    const auto& r = ip.report;
    std::string parts;
    auto add = [&](const char* verb, const std::vector<std::string>& v) {
        if (!v.empty()) parts += (parts.empty() ? "" : "; ") + std::string(verb) + " " + joined(v);
    };
    add(dry_run ? "would load" : "loaded", r.loaded);
    add(dry_run ? "would unload" : "unloaded", r.unloaded);
    add("initiated", r.initiated);
    if (parts.empty()) parts = "no changes";
    o << "ipsec: " << parts;
    if (!r.unchanged.empty()) o << " (" << r.unchanged.size() << " unchanged)";
    o << "\n";
    for (const vici::TunnelStatus& t : ip.tunnels) o << "  " << tunnel_line(t) << "\n";
    return o.str();
}

}  // namespace

static std::string render_kernel_text(const ApplyReport& r, bool dry_run, bool rolled_back);

std::string tunnel_line(const vici::TunnelStatus& t) {
    std::ostringstream o;
    o << t.name << ": " << (t.up ? "up" : "down") << " (IKE " << t.ike_state << ", CHILD " << t.child_state << ")";
    if (!t.loaded) o << ", not loaded in charon (restarted?): apply again";
    if (!t.local_host.empty())
        o << " " << t.local_host << " -> " << t.remote_host << (t.nat_local ? " behind NAT" : "");
    if (!t.up && !t.last_failure.empty()) o << ": " << t.last_failure;
    return o.str();
}

namespace {

void firewall_json(JsonWriter& w, const runtime::FirewallOutcome& f) {
    w.key("firewall").begin_object().field("table", "inet avpn");
    w.field("action", f.replaced ? "replaced" : f.removed ? "removed" : f.unchanged ? "unchanged" : "none");
    w.field("undone", f.undone);
    // The sizes of what was written; a report of no change stays the same
    // whatever the plan holds.
    if (f.replaced) w.field("rules", uint64_t(f.rules)).field("sets", uint64_t(f.sets)).field("elements", uint64_t(f.elements));
    w.key("error");
    const std::optional<Error>& e = f.failure ? f.failure : f.undo_failure;
    if (e)
        w.begin_object().field("what", e->what).field("where", e->where).field("why", e->why).end_object();
    else
        w.null();
    w.end_object();
}

std::string firewall_text(const runtime::FirewallOutcome& f) {
    std::string sizes = " (" + std::to_string(f.rules) + " rules, " + std::to_string(f.sets) + " sets of " +
                        std::to_string(f.elements) + " elements)";
    if (f.failure) return "firewall: table inet avpn unchanged: " + f.failure->str() + "\n";
    if (f.undo_failure) return "firewall: putting back the previous table inet avpn failed: " + f.undo_failure->str() + "\n";
    if (f.undone) return "firewall: table inet avpn " + std::string(f.replaced ? "replaced" : "removed") + ", then put back\n";
    if (f.replaced) return "firewall: table inet avpn replaced" + sizes + "\n";
    if (f.removed) return "firewall: table inet avpn removed\n";
    return "";
}

}  // namespace

std::string render_apply_json(const ApplyReport& r, bool dry_run, const runtime::IpsecOutcome* ipsec,
                              const runtime::FirewallOutcome* firewall) {
    JsonWriter w;
    OpCounts c = count(r.ops);
    w.begin_object().field("schema", "avpn.apply/1").field("dry_run", dry_run).field("applied", r.applied);
    w.field("changes", uint64_t(c.total()));
    counts_json(w, "created", c.created);
    counts_json(w, "updated", c.updated);
    counts_json(w, "deleted", c.removed);
    w.key("ops").begin_array();
    for (const Op& op : r.ops) {
        w.begin_object().field("op", to_string(op.kind)).field("kind", object_kind_name(op.phase()));
        w.key("object");
        std::visit([&](const auto& o) { to_json(w, o); }, op.object);
        w.end_object();
    }
    w.end_array();
    w.key("error");
    if (r.failure) {
        w.begin_object().field("op_index", uint64_t(r.failed_op)).field("what", r.failure->what);
        w.field("where", r.failure->where).field("why", r.failure->why).end_object();
    } else {
        w.null();
    }
    w.key("rollback_errors").begin_array();
    for (const Error& e : r.undo_failures) {
        w.begin_object();
        error_json(w, "error", e);
        w.end_object();
    }
    w.end_array();
    ipsec_json(w, ipsec);
    if (firewall) firewall_json(w, *firewall);
    w.end_object();
    return w.str();
}

std::string render_apply_text(const ApplyReport& r, bool dry_run, const runtime::IpsecOutcome* ipsec,
                              const runtime::FirewallOutcome* firewall) {
    std::string out = render_kernel_text(r, dry_run, ipsec && ipsec->kernel_rolled_back);
    if (firewall) out += firewall_text(*firewall);
    if (ipsec && ipsec->asked) out += ipsec_text(*ipsec, dry_run);
    return out;
}

static std::string render_kernel_text(const ApplyReport& r, bool dry_run, bool rolled_back) {
    std::ostringstream o;
    OpCounts c = count(r.ops);
    if (r.ops.empty() && !r.failure) return "no changes: the kernel already matches the plan\n";
    if (rolled_back) return "kernel: " + std::to_string(c.total()) + " change(s) made, then undone\n";
    if (dry_run) {
        o << "would apply " << c.total() << " change" << (c.total() == 1 ? "" : "s") << ":\n";
        for (const Op& op : r.ops)
            o << "  " << to_string(op.kind) << " " << object_kind_name(op.phase()) << " " << describe(op.object) << "\n";
        return o.str();
    }
    if (r.applied) {
        o << "applied " << c.total() << " change" << (c.total() == 1 ? "" : "s");
        for (auto s : {counts_text("created", c.created), counts_text("updated", c.updated), counts_text("deleted", c.removed)})
            if (!s.empty()) o << "; " << s;
        o << "\n";
        return o.str();
    }
    if (r.failure) {
        o << "apply failed at op " << r.failed_op + 1 << " of " << r.ops.size() << ": " << r.failure->str() << "\n";
        if (r.undo_failures.empty())
            o << "rolled back: the kernel is as it was before the apply\n";
        else
            for (const Error& e : r.undo_failures) o << "rollback error: " << e.str() << "\n";
    }
    return o.str();
}

}  // namespace avpn::report
