// avpnctl: the operator's front end. Parsing lives here; every command is in
// its own cmd_*.cpp and listed in command.hpp's table.
#include <cstdio>

#include "orchestrator/cli/command.hpp"

int main(int argc, char** argv) {
    using namespace avpn::cli;
    CLI::App app{"avpnctl — AutoVPN orchestrator for Linux routers", "avpnctl"};
    app.set_version_flag("--version", std::string("avpnctl ") + AVPN_VERSION);
    app.require_subcommand(1, 1);
    app.fallthrough(false);

    Handler chosen;
    for (const Command& c : command_table()) {
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        sub->set_version_flag("--version", std::string("avpnctl ") + AVPN_VERSION);
        Handler h = c.setup(*sub);
        sub->callback([&chosen, h] { chosen = h; });
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "avpnctl: %s\nRun 'avpnctl --help' for usage.\n", e.what());
        return kUsage;
    }
    return chosen ? chosen() : kUsage;
}
