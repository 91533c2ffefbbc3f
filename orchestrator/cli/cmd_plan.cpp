// avpnctl plan FILE [--json]: the complete desired state of a site.
#include <iostream>
#include <memory>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/render_plan.hpp"
#include "orchestrator/runtime/site_apply.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"

namespace avpn::cli {

Handler setup_plan(Options& sub) {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    sub.positional("FILE", *file, "site configuration (site.toml)", Need::required);
    sub.flag("--json", *json, "machine-readable output (schema: docs/plan-json.md)");
    return [file, json] {
        Loaded l = load_site_file(*file, runtime::LoadFor::check, *json);
        if (l.exit_code != kOk) return l.exit_code;
        // Interop tunnels use their uplink's address, which apply reads from
        // the kernel: where this machine has it, the plan shows it too (a
        // read-only dump); elsewhere the plan says "at apply time".
        if (!l.intent->ipsec.empty()) {
            if (auto port = NetlinkPort::open({})) {
                PlanInputs inputs;
                inputs.xfrm_handshake = true;
                auto addresses = (*port)->interface_addresses(runtime::uplinks_of(*l.intent));
                if (addresses) inputs.uplink_addresses = std::move(*addresses);
                if (!inputs.uplink_addresses.empty()) {
                    PlanOutcome p = plan(*l.intent, inputs);
                    if (p.ok()) l.state = std::move(p.state);
                }
            }
        }
        std::cout << (*json ? render_plan_json(*l.state) : render_plan_text(*l.state));
        return int(kOk);
    };
}

}  // namespace avpn::cli
