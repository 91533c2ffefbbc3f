// avpnctl down [--json] [--state-dir DIR]: remove every kernel object avpn
// owns and nothing else. Works without a config file: ownership comes from
// avpn's markers and the state directory.
#include <iostream>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/site_runtime.hpp"

namespace avpn::cli {

Handler setup_down(CLI::App& sub) {
    auto state_dir = std::make_shared<std::string>(kDefaultStateDir);
    auto json = std::make_shared<bool>(false);
    sub.add_flag("--json", *json, "machine-readable output (schema avpn.apply/1)");
    sub.add_option("--state-dir", *state_dir, "state directory")->capture_default_str();
    return [state_dir, json] {
        StateDir state(*state_dir);
        if (Status s = state.lock(); !s) return report_failure("down", s.error());
        auto last = state.load();
        if (!last) return report_failure("down", last.error());
        auto port = open_kernel_port(nullptr);
        if (!port) return report_failure("down", port.error());
        ApplyReport report = apply(nl::KernelState{}, last->owned, **port, false);
        std::cout << (*json ? render_apply_json(report, false) : render_apply_text(report, false));
        if (report.failure) return int(kFailed);
        if (Status s = state.clear(); !s) return report_failure("down", s.error());
        return int(kOk);
    };
}

}  // namespace avpn::cli
