#include "orchestrator/cli/load.hpp"

#include <iostream>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/runtime/load.hpp"

namespace avpn::cli {

namespace {

void json_diagnostics(JsonWriter& w, std::string_view key, const Errors& list) {
    w.key(key).begin_array();
    for (const Error& e : list)
        w.begin_object().field("where", e.where).field("what", e.what).field("why", e.why).end_object();
    w.end_array();
}

}  // namespace

Loaded load_site_file(const std::string& path, runtime::LoadFor purpose, bool json) {
    Loaded out;
    runtime::LoadedSite site = runtime::load_site(path, purpose);
    const Errors& errors = site.errors;
    if (json && (!errors.empty() || !site.warnings.empty())) {
        JsonWriter w;
        w.begin_object().field("file", site.path).field("valid", errors.empty());
        json_diagnostics(w, "errors", errors);
        json_diagnostics(w, "warnings", site.warnings);
        w.end_object();
        (errors.empty() ? std::cerr : std::cout) << w.str();
    } else {
        for (const Error& e : errors) std::cerr << format_diagnostic(e, Severity::error) << "\n";
        for (const Error& e : site.warnings) std::cerr << format_diagnostic(e, Severity::warning) << "\n";
    }
    if (!errors.empty()) {
        std::cerr << site.path << ": " << errors.size() << (errors.size() == 1 ? " error" : " errors") << "\n";
        out.exit_code = kInvalid;
        return out;
    }
    out.intent = std::move(site.intent);
    out.state = std::move(site.state);
    return out;
}

}  // namespace avpn::cli
