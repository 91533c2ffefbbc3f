#include "orchestrator/runtime/load.hpp"

#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::runtime {

std::string diagnostic_line(const Error& e, std::string_view severity) {
    std::string s = e.where.empty() ? std::string() : e.where + ": ";
    s += severity;
    s += ": ";
    s += e.what;
    if (!e.why.empty()) s += ": " + e.why;
    return s;
}

LoadedSite load_site(const std::string& path, bool want_plan) {
    LoadedSite out;
    out.path = config::normal_path(path);
    LoadResult lr = avpn::load_site(path);
    out.errors = std::move(lr.errors);
    out.warnings = std::move(lr.warnings);
    if (!out.errors.empty()) return out;
    if (want_plan) {
        PlanOutcome po = plan(*lr.intent);
        if (!po.ok()) {
            out.errors.insert(out.errors.end(), po.errors.begin(), po.errors.end());
            return out;
        }
        out.state = std::move(po.state);
    }
    out.intent = std::move(lr.intent);
    return out;
}

}  // namespace avpn::runtime
