// avpnctl plan FILE [--json]: the complete desired state of a site.
#include <iostream>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/render_plan.hpp"

namespace avpn::cli {

Handler setup_plan(CLI::App& sub) {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    sub.add_option("FILE", *file, "site configuration (site.toml)")->required();
    sub.add_flag("--json", *json, "machine-readable output (schema: docs/plan-json.md)");
    return [file, json] {
        Loaded l = load_site_file(*file, true, *json);
        if (l.exit_code != kOk) return l.exit_code;
        std::cout << (*json ? render_plan_json(*l.state) : render_plan_text(*l.state));
        return int(kOk);
    };
}

}  // namespace avpn::cli
