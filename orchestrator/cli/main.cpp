// avpnctl: the operator's front end. Parsing lives here, the only file that
// includes CLI11; every command is in its own cmd_*.cpp, listed in
// command.hpp's table, and declares its arguments on an Options.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "orchestrator/cli/command.hpp"

namespace {

using avpn::cli::Default;
using avpn::cli::Need;
using avpn::cli::Options;

class CliOptions final : public Options {
public:
    explicit CliOptions(CLI::App& sub) : sub_(sub) {}

    void positional(const char* name, std::string& into, const char* help, Need need) override {
        CLI::Option* o = sub_.add_option(name, into, help);
        if (need == Need::required) o->required();
    }
    void flag(const char* name, bool& into, const char* help) override { sub_.add_flag(name, into, help); }
    void option(const char* name, std::string& into, const char* help, Default shown) override {
        CLI::Option* o = sub_.add_option(name, into, help);
        if (shown == Default::shown) o->capture_default_str();
    }
    void option(const char* name, int& into, const char* help, int min, int max) override {
        sub_.add_option(name, into, help)->capture_default_str()->check(CLI::Range(min, max));
    }
    void excludes(const char* name, const char* other) override {
        sub_.get_option(name)->excludes(sub_.get_option(other));
    }
    void footer(const char* text) override { sub_.footer(text); }

private:
    CLI::App& sub_;
};

}  // namespace

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
        CliOptions options(*sub);
        Handler h = c.setup(options);
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
