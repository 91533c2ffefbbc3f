// avpnctl's command table. Each command lives in its own file and declares its
// arguments on an Options; its handler returns the process exit code
// (docs/cli.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orchestrator/report/printed.hpp"

namespace avpn::cli {

// Exit codes, documented in docs/cli.md; avpnd's replies use the same.
using enum report::Exit;

using Handler = std::function<int()>;

// A subcommand's arguments, as its cmd_*.cpp declares them. main.cpp is the
// one implementation, with CLI11: its headers cost ~9 s of compile in every
// file that includes them (17.8 s of cmd_down.cpp's 21.7 s, measured), so
// only main.cpp does. Each `into` outlives the parse (the handler owns it).
enum class Need { optional, required };
enum class Default { hidden, shown };  // whether --help prints into's value

class Options {
public:
    virtual ~Options() = default;
    virtual void positional(const char* name, std::string& into, const char* help, Need need) = 0;
    virtual void flag(const char* name, bool& into, const char* help) = 0;
    // --name VALUE.
    virtual void option(const char* name, std::string& into, const char* help, Default shown) = 0;
    // --name N with min <= N <= max; --help prints the default.
    virtual void option(const char* name, int& into, const char* help, int min, int max) = 0;
    // Two options already declared that may not be given together.
    virtual void excludes(const char* name, const char* other) = 0;
    virtual void footer(const char* text) = 0;
};

struct Command {
    const char* name;
    const char* summary;
    // Declares the subcommand's arguments; returns the handler to run when chosen.
    Handler (*setup)(Options& sub);
};

Handler setup_check(Options&);
Handler setup_plan(Options&);
Handler setup_member(Options&);
Handler setup_apply(Options&);
Handler setup_down(Options&);
Handler setup_status(Options&);
Handler setup_reload(Options&);
Handler setup_confirm(Options&);
Handler setup_rekey(Options&);
Handler setup_genkey(Options&);
Handler setup_pubkey(Options&);

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
