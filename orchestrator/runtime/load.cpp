#include "orchestrator/runtime/load.hpp"

#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"

namespace avpn::runtime {

LoadedSite load_site(const std::string& path, LoadFor purpose) {
    return loaded_site(path, avpn::load_site(path), purpose);
}

LoadedSite loaded_site(const std::string& path, LoadResult lr, LoadFor purpose) {
    LoadedSite out;
    out.path = config::normal_path(path);
    out.errors = std::move(lr.errors);
    out.warnings = std::move(lr.warnings);
    for (Error& e : lr.not_acted_on) {
        if (purpose == LoadFor::apply) {
            out.errors.push_back(std::move(e));
        } else {
            e.why += " (apply refuses this)";
            out.warnings.push_back(std::move(e));
        }
    }
    for (Error& e : lr.needs_daemon) {
        if (purpose == LoadFor::apply) {
            out.needs_daemon.push_back(std::move(e));
        } else if (purpose == LoadFor::check) {
            e.why += " (apply needs avpnd)";
            out.warnings.push_back(std::move(e));
        }
    }
    if (!out.errors.empty()) return out;
    if (purpose == LoadFor::check) {
        // As avpnd plans before any handshake: XFRM peers without SAs.
        PlanInputs before_handshakes;
        before_handshakes.xfrm_handshake = true;
        PlanOutcome po = plan(*lr.intent, before_handshakes);
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
