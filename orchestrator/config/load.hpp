// Loading a site's configuration: site.toml plus the member lists and secret
// files it names, parsed and validated into a typed Intent.
//
// Diagnostics all have one layout (see docs/config.md):
//   Error.where  "file:line:col" of the offending key or value
//   Error.what   the field path: "vlan[2].subnet", "autovpn.hubs[0].name",
//                "autovpn[1].listen_port", "member[7].exports[1]"
//   Error.why    what is wrong, with a hint where one helps
// and format_diagnostic() prints them as "file:line:col: error: path: why".
// Every error of every file is reported in one run. The contents of key, PSK
// and group-key files never appear in any diagnostic.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "orchestrator/intent.hpp"

namespace avpn {

namespace config {
class FileSource;
}

struct LoadResult {
    std::optional<Intent> intent;  // set only when there are no errors
    Errors errors;
    Errors warnings;
    Errors not_acted_on;  // accepted, not acted on yet (diag.hpp): apply refuses, check warns
    Errors needs_daemon;  // acted on by avpnd only (diag.hpp): the one-shot apply refuses, check notes it
    bool ok() const { return intent.has_value() && errors.empty(); }
};

// Reads `path` and every file it names (members lists, key/PSK files).
LoadResult load_site(const std::string& path);

// Parses `toml` as if it were the file `path_for_messages`; relative member
// and key files still resolve against that path's directory.
LoadResult load_site_text(std::string_view toml, const std::string& path_for_messages);

// Same, reading the named files through `files` (tests and the fuzzer serve
// them from memory).
LoadResult load_site_text(std::string_view toml, const std::string& path_for_messages,
                          const config::FileSource& files);

// A member list file read on its own, as avpn-registry reads the lists of
// the groups it serves: its [group] header (whose name is required here: it
// says which group the list is for) and its [[member]] entries, checked as a
// site checks them (each entry's keys, unique names and public keys) but
// against no site. Errors have the layout above.
struct MemberListLoad {
    std::string group;
    std::vector<Member> members;
    Errors errors;
    bool ok() const { return errors.empty(); }
};
MemberListLoad load_member_list_file(const std::string& path);
MemberListLoad load_member_list_file(const std::string& path, const config::FileSource& files);

enum class Severity { error, warning };
std::string format_diagnostic(const Error&, Severity = Severity::error);

}  // namespace avpn
