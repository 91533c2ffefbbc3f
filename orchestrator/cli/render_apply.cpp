#include "orchestrator/cli/render_apply.hpp"

#include <sstream>

#include "orchestrator/cli/json_objects.hpp"

namespace avpn::cli {

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

void error_json(JsonWriter& w, std::string_view key, const Error& e) {
    w.key(key).begin_object().field("what", e.what).field("where", e.where).field("why", e.why).end_object();
}

}  // namespace

std::string render_apply_json(const ApplyReport& r, bool dry_run) {
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
    w.end_array().end_object();
    return w.str();
}

std::string render_apply_text(const ApplyReport& r, bool dry_run) {
    std::ostringstream o;
    OpCounts c = count(r.ops);
    if (r.ops.empty() && !r.failure) return "no changes: the kernel already matches the plan\n";
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

}  // namespace avpn::cli
