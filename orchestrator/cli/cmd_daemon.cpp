// Commands that only mean something to a running avpnd:
//   avpnctl reload [--json] [--control-socket PATH]: what SIGHUP does (re-read
//     the config file, converge, incrementally where it can), with the result
//     printed as apply prints it; a config with errors is reported (exit 1)
//     and the running state kept.
//   avpnctl confirm [--control-socket PATH]: keeps the configuration applied
//     with `apply --confirm`, which avpnd otherwise rolls back at its deadline.
//   avpnctl rekey [GROUP [PEER]] [--json] [--control-socket PATH]: the XFRM
//     peers named (all of GROUP, or of every XFRM group) rotate their keys
//     now; prints the rotations started.
// Without avpnd all three exit 7.
#include <memory>

#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/control_client.hpp"
#include "orchestrator/cli/report.hpp"

namespace avpn::cli {

namespace {

int ask(const std::string& socket, const control::Request& r, std::string_view what_for) {
    std::string name(control::to_string(r.command));
    DaemonConnection avpnd(socket, name);
    switch (avpnd.state()) {
        case DaemonConnection::State::connected: return print(avpnd.ask(r));
        case DaemonConnection::State::failed: return print(avpnd.failure());
        case DaemonConnection::State::no_daemon: break;
    }
    return print(needs_avpnd(name, socket, what_for));
}

int ask(const std::string& socket, control::Command c, bool json, std::string_view what_for) {
    control::Request r;
    r.command = c;
    r.json = json;
    return ask(socket, r, what_for);
}

}  // namespace

Handler setup_reload(Options& sub) {
    auto socket = std::make_shared<std::string>(control::kDefaultSocket);
    auto json = std::make_shared<bool>(false);
    sub.flag("--json", *json, "machine-readable output (schema avpn.apply/1)");
    sub.option("--control-socket", *socket, "avpnd's control socket", Default::shown);
    return [socket, json] {
        return ask(*socket, control::Command::reload, *json, "reload (a running avpnd re-reads its configuration)");
    };
}

Handler setup_confirm(Options& sub) {
    auto socket = std::make_shared<std::string>(control::kDefaultSocket);
    sub.option("--control-socket", *socket, "avpnd's control socket", Default::shown);
    return [socket] {
        return ask(*socket, control::Command::confirm, false, "confirm (of an apply --confirm that avpnd holds)");
    };
}

Handler setup_rekey(Options& sub) {
    auto socket = std::make_shared<std::string>(control::kDefaultSocket);
    auto r = std::make_shared<control::Request>();
    r->command = control::Command::rekey;
    sub.positional("GROUP", r->group, "the XFRM group (default: every XFRM group)", Need::optional);
    sub.positional("PEER", r->peer, "the peer in GROUP (default: every peer of it)", Need::optional);
    sub.flag("--json", r->json, "machine-readable output (schema avpn.rekey/1)");
    sub.option("--control-socket", *socket, "avpnd's control socket", Default::shown);
    return [socket, r] { return ask(*socket, *r, "rekey (avpnd runs the key exchange)"); };
}

}  // namespace avpn::cli
