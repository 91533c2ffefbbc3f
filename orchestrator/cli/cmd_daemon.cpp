// Commands that only mean something to a running avpnd:
//   avpnctl reload [--json] [--control-socket PATH]: what SIGHUP does (re-read
//     the config file, converge, incrementally where it can), with the result
//     printed as apply prints it; a config with errors is reported (exit 1)
//     and the running state kept.
//   avpnctl confirm [--control-socket PATH]: keeps the configuration applied
//     with `apply --confirm`, which avpnd otherwise rolls back at its deadline.
// Without avpnd both exit 7.
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/control_client.hpp"
#include "orchestrator/cli/report.hpp"

namespace avpn::cli {

namespace {

int ask(const std::string& socket, control::Command c, bool json, std::string_view what_for) {
    std::string name(control::to_string(c));
    DaemonConnection avpnd(socket, name);
    switch (avpnd.state()) {
        case DaemonConnection::State::connected: {
            control::Request r;
            r.command = c;
            r.json = json;
            return print(avpnd.ask(r));
        }
        case DaemonConnection::State::failed: return print(avpnd.failure());
        case DaemonConnection::State::no_daemon: break;
    }
    return print(needs_avpnd(name, socket, what_for));
}

}  // namespace

Handler setup_reload(CLI::App& sub) {
    auto socket = std::make_shared<std::string>(control::kDefaultSocket);
    auto json = std::make_shared<bool>(false);
    sub.add_flag("--json", *json, "machine-readable output (schema avpn.apply/1)");
    sub.add_option("--control-socket", *socket, "avpnd's control socket")->capture_default_str();
    return [socket, json] {
        return ask(*socket, control::Command::reload, *json, "reload (a running avpnd re-reads its configuration)");
    };
}

Handler setup_confirm(CLI::App& sub) {
    auto socket = std::make_shared<std::string>(control::kDefaultSocket);
    sub.add_option("--control-socket", *socket, "avpnd's control socket")->capture_default_str();
    return [socket] {
        return ask(*socket, control::Command::confirm, false, "confirm (of an apply --confirm that avpnd holds)");
    };
}

}  // namespace avpn::cli
