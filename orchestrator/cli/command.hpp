// avpnctl's command table. Each command lives in its own file and registers a
// CLI11 subcommand; its handler returns the process exit code (docs/cli.md).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "orchestrator/report/printed.hpp"

namespace avpn::cli {

// Exit codes, documented in docs/cli.md; avpnd's replies use the same.
using enum report::Exit;

using Handler = std::function<int()>;

struct Command {
    const char* name;
    const char* summary;
    // Adds options to the subcommand; returns the handler to run when chosen.
    Handler (*setup)(CLI::App& sub);
};

Handler setup_check(CLI::App&);
Handler setup_plan(CLI::App&);
Handler setup_member(CLI::App&);
Handler setup_apply(CLI::App&);
Handler setup_down(CLI::App&);
Handler setup_status(CLI::App&);
Handler setup_reload(CLI::App&);
Handler setup_confirm(CLI::App&);
Handler setup_rekey(CLI::App&);
Handler setup_genkey(CLI::App&);
Handler setup_pubkey(CLI::App&);

inline const std::vector<Command>& command_table() {
    static const std::vector<Command> table = {
        {"check", "Validate a site configuration; report every error", setup_check},
        {"plan", "Show the desired state a site configuration describes", setup_plan},
        {"apply", "Make the kernel match a site configuration, all or nothing", setup_apply},
        {"down", "Remove every kernel object avpn owns, and nothing else", setup_down},
        {"status", "Show the state of the site's IPsec interop tunnels", setup_status},
        {"reload", "Have avpnd re-read its configuration and converge (as SIGHUP)", setup_reload},
        {"confirm", "Keep the configuration applied with apply --confirm", setup_confirm},
        {"rekey", "Have avpnd rotate the keys of XFRM peers now", setup_rekey},
        {"member", "Print this site's entry for its group's member list", setup_member},
        {"genkey", "Generate a site private key (base64 X25519)", setup_genkey},
        {"pubkey", "Read a private key on stdin, print its public key", setup_pubkey},
    };
    return table;
}

}  // namespace avpn::cli
