// Collects errors and warnings of one load. Every diagnostic has the same
// layout: Error.where = "file:line:col", Error.what = the field path
// ("vlan[2].subnet", "autovpn.hubs[0].name", "member[7].exports[1]"),
// Error.why = what is wrong, with a hint where one helps.
#pragma once

#include <string>

#include "common/result.hpp"
#include "orchestrator/config/doc.hpp"
#include "orchestrator/intent.hpp"

namespace avpn::config {

inline SourceLoc loc_at(const std::string& file, Pos p) { return SourceLoc{file, p.line, p.column}; }

struct Diag {
    Errors errors;
    Errors warnings;
    // Settings the language accepts but this version does not act on yet:
    // `check` warns about them, apply and avpnd refuse them.
    Errors not_acted_on;

    void error(const SourceLoc& at, std::string field, std::string message) {
        errors.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
    void warning(const SourceLoc& at, std::string field, std::string message) {
        warnings.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
    void inactive(const SourceLoc& at, std::string field, std::string message) {
        not_acted_on.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
};

// "path.key", or "key" at the top level.
inline std::string join_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
inline std::string index_path(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

}  // namespace avpn::config
