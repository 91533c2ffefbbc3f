// Shared by the config tests: an in-memory file source, a small valid site
// to build on, and assertions on located diagnostics.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "common/crypto.hpp"
#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"

namespace avpn::test {

// A test-only private key (not used anywhere else).
inline constexpr const char* kSiteKey = "IG4UnWA84NnyiEiP7LXf51yog8qQOSXKTgHGBN87bWY=";
inline constexpr const char* kSitePub = "AxxbbBdkcRe5d7Arvrd7T5I7BhOlNJcQ/m1d+YJmk3Y=";  // wg pubkey of kSiteKey
inline constexpr const char* kSiteFile = "/cfg/site.toml";

// Files served from memory; secrets are returned whatever their "mode" (the
// permission check itself is tested against real files in files_test.cpp).
class MemFiles final : public config::FileSource {
public:
    MemFiles() { files_["/cfg/london.key"] = std::string(kSiteKey) + "\n"; }
    void put(const std::string& path, std::string text) { files_[path] = std::move(text); }

    Result<std::string> read_text(const std::string& path) const override {
        auto it = files_.find(path);
        if (it == files_.end()) return Error{"open", path, "cannot open " + path + ": No such file or directory"};
        return it->second;
    }
    Result<config::Secret> read_secret(const std::string& path) const override {
        auto text = read_text(path);
        if (!text) return text.error();
        return config::Secret(*text);
    }

private:
    std::map<std::string, std::string> files_;
};

// Lines 1-5 of most test files: a spoke named london.
inline const std::string kSpoke =
    "[site]\nname = \"london\"\nrole = \"spoke\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n";
// Lines 1-5: the same site as a hub.
inline const std::string kHub =
    "[site]\nname = \"london\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n";

// A valid public key, distinct for every n.
inline std::string pub(int n) {
    crypto::Key32 k{};
    k.fill(uint8_t(n));
    return crypto::base64_encode(k.data(), k.size());
}

// A [[autovpn.member]] table (7 lines when exports/hubs are given, one line each).
inline std::string member(const std::string& name, const std::string& role, int key,
                          const std::string& exports = "", const std::string& hubs = "") {
    std::string s = "[[autovpn.member]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\npublic_key = \"" + pub(key) + "\"\n";
    if (!exports.empty()) s += "exports = " + exports + "\n";
    if (!hubs.empty()) s += "hubs = " + hubs + "\n";
    return s;
}

inline LoadResult load(const std::string& text, const MemFiles& files = MemFiles()) {
    return load_site_text(text, kSiteFile, files);
}

inline std::string all_diagnostics(const LoadResult& r) {
    std::string s;
    for (const Error& e : r.errors) s += format_diagnostic(e) + "\n";
    for (const Error& e : r.warnings) s += format_diagnostic(e, Severity::warning) + "\n";
    return s;
}

// The one diagnostic for `field` in `list`; fails the test when there is not
// exactly one.
inline const Error* find_one(const Errors& list, const std::string& field, const std::string& dump) {
    const Error* found = nullptr;
    int count = 0;
    for (const Error& e : list)
        if (e.what == field) found = &e, ++count;
    INFO("diagnostics:\n" << dump);
    CHECK_MESSAGE(count == 1, "expected one diagnostic for " << field << ", found " << count);
    return found;
}

// Asserts exactly one error for `field`, at `where` ("line:col" in the site
// file, or a full "file:line:col"), whose text holds every word in `words`.
inline void expect_error(const LoadResult& r, const std::string& field, const std::string& where,
                         const std::vector<std::string>& words) {
    const Error* e = find_one(r.errors, field, all_diagnostics(r));
    if (!e) return;
    std::string want = where.find('/') == std::string::npos ? std::string(kSiteFile) + ":" + where : where;
    CHECK(e->where == want);
    for (const std::string& w : words) CHECK_MESSAGE(e->why.find(w) != std::string::npos, "\"" << w << "\" not in: " << e->why);
    CHECK_FALSE(r.ok());
}

// Asserts exactly one error for `field`, at `where` (as for expect_error),
// whose text is exactly `why`.
inline void expect_exact(const LoadResult& r, const std::string& field, const std::string& where, const std::string& why) {
    const Error* e = find_one(r.errors, field, all_diagnostics(r));
    if (!e) return;
    std::string want = where.find('/') == std::string::npos ? std::string(kSiteFile) + ":" + where : where;
    CHECK(e->where == want);
    CHECK(e->why == why);
    CHECK_FALSE(r.ok());
}

inline void expect_warning(const LoadResult& r, const std::string& field, const std::string& where,
                           const std::vector<std::string>& words) {
    const Error* e = find_one(r.warnings, field, all_diagnostics(r));
    if (!e) return;
    CHECK(e->where == std::string(kSiteFile) + ":" + where);
    for (const std::string& w : words) CHECK_MESSAGE(e->why.find(w) != std::string::npos, "\"" << w << "\" not in: " << e->why);
}

inline void expect_ok(const LoadResult& r) {
    INFO("diagnostics:\n" << all_diagnostics(r));
    REQUIRE(r.ok());
}

}  // namespace avpn::test
