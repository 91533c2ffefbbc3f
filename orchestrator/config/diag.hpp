// Collects errors and warnings of one load. Every diagnostic has the same
// layout: Error.where = "file:line:col", Error.what = the field path
// ("vlan[2].subnet", "autovpn.hubs[0].name", "member[7].exports[1]"),
// Error.why = what is wrong, with a hint where one helps.
#pragma once

#include <string>
#include <string_view>

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
    // Settings avpnd acts on but a one-shot `avpnctl apply` cannot: they
    // need something held between applies (an XFRM group's ESP-in-UDP
    // socket). The one-shot refuses them, `check` and `plan` say so.
    Errors needs_daemon;

    void error(const SourceLoc& at, std::string field, std::string message) {
        errors.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
    void warning(const SourceLoc& at, std::string field, std::string message) {
        warnings.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
    void inactive(const SourceLoc& at, std::string field, std::string message) {
        not_acted_on.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
    void daemon_only(const SourceLoc& at, std::string field, std::string message) {
        needs_daemon.push_back(Error{std::move(field), at.str(), std::move(message)});
    }
};

// User text as a diagnostic may echo it: control characters escaped (\xNN),
// so a NUL or an escape sequence never reaches a terminal or a log raw, and
// at most max bytes of it, then "…" and the full length, so a 60 MB key
// does not make a 60 MB message.
inline std::string shown(std::string_view text, size_t max = 64) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < text.size() && i < max; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) s += std::string("\\x") + hex[c >> 4] + hex[c & 15];
        else s += char(c);
    }
    if (text.size() > max) s += "…(" + std::to_string(text.size()) + " bytes)";
    return s;
}

// "path.key", or "key" at the top level.
inline std::string join_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
inline std::string index_path(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

}  // namespace avpn::config
