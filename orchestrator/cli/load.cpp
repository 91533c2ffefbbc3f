#include "orchestrator/cli/load.hpp"

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/report.hpp"
#include "orchestrator/report/command_output.hpp"
#include "orchestrator/runtime/load.hpp"

namespace avpn::cli {

Loaded load_site_file(const std::string& path, runtime::LoadFor purpose, bool json) {
    Loaded out;
    runtime::LoadedSite site = runtime::load_site(path, purpose);
    out.exit_code = print(report::diagnostics(site, json));
    if (out.exit_code != kOk) return out;
    out.intent = std::move(site.intent);
    out.state = std::move(site.state);
    out.needs_daemon = std::move(site.needs_daemon);
    return out;
}

}  // namespace avpn::cli
