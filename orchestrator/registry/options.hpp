// avpn-registry's command line and what it names: the registry's key, the
// groups' member lists and group keys, read into the server's config.
// Separate from main.cpp so tests can check every refusal.
#pragma once

#include <string>
#include <vector>

#include "common/ip.hpp"
#include "plugins/registry/server.hpp"

namespace avpn::registry {

struct Options {
    Endpoint listen;  // default 0.0.0.0:9350
    std::optional<Endpoint> alternate;  // the filtering test's second address, off by default
    std::string key_file;
    std::vector<std::string> member_files;
    std::vector<std::pair<std::string, std::string>> group_keys;  // group name, file
    bool credentials = false;  // --credentials: the files come from systemd's credentials
    bool help = false, version = false;
};

extern const char* const kUsage;

// argv (without argv[0]) -> Options; an Error names the argument.
Result<Options> parse_options(const std::vector<std::string>& args);

// --credentials: the inputs as systemd hands them to avpn-registry.service
// (LoadCredential=, docs/packaging.md), all in `dir` ($CREDENTIALS_DIRECTORY):
// `registry.key` is --key, every `members_*.toml` a --members, every
// `group-key_GROUP.key` a --group-key GROUP. Errors name the directory.
Result<Options> options_from_credentials(Options o, const std::string& dir);

// Reads the key file, every member list and group key file. Every problem
// is an error (a member list with errors, a group key for a group no list
// names, two lists for one group): the registry serves exactly what the
// files say or does not start.
Result<ServerConfig> load_server_config(const Options& o);

}  // namespace avpn::registry
