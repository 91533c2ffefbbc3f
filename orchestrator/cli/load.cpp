#include "orchestrator/cli/load.hpp"

#include <iostream>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::cli {

namespace {

std::string diagnostic(const Error& e, std::string_view severity) {
    std::string s = e.where.empty() ? std::string() : e.where + ": ";
    s += severity;
    s += ": ";
    s += e.what;
    if (!e.why.empty()) s += ": " + e.why;
    return s;
}

void json_diagnostics(JsonWriter& w, std::string_view key, const Errors& list) {
    w.key(key).begin_array();
    for (const Error& e : list)
        w.begin_object().field("where", e.where).field("what", e.what).field("why", e.why).end_object();
    w.end_array();
}

}  // namespace

Loaded load_site_file(const std::string& path, bool want_plan, bool json) {
    Loaded out;
    LoadResult lr = load_site(path);
    Errors errors = lr.errors;
    if (lr.ok() && want_plan) {
        PlanOutcome po = plan(*lr.intent);
        if (po.ok())
            out.state = std::move(po.state);
        else
            errors.insert(errors.end(), po.errors.begin(), po.errors.end());
    }
    if (json && (!errors.empty() || !lr.warnings.empty())) {
        JsonWriter w;
        w.begin_object().field("file", config::normal_path(path)).field("valid", errors.empty());
        json_diagnostics(w, "errors", errors);
        json_diagnostics(w, "warnings", lr.warnings);
        w.end_object();
        (errors.empty() ? std::cerr : std::cout) << w.str();
    } else {
        for (const Error& e : errors) std::cerr << diagnostic(e, "error") << "\n";
        for (const Error& e : lr.warnings) std::cerr << diagnostic(e, "warning") << "\n";
    }
    if (!errors.empty()) {
        std::cerr << config::normal_path(path) << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors") << "\n";
        out.exit_code = kInvalid;
        return out;
    }
    out.intent = std::move(lr.intent);
    return out;
}

}  // namespace avpn::cli
