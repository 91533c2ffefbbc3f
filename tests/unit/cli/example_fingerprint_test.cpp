// The group fingerprint on the shipped examples: the five acme sites, each
// loaded from its own site file and the shared member list, compute one
// value; a member list that differs at one site gives that site another.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/plan/planner.hpp"

using namespace avpn;

namespace {

std::string source_dir() {
    const char* s = std::getenv("AVPN_SOURCE_DIR");
    return s ? s : ".";
}

const char* const kAcmeSites[] = {"london", "newyork", "paris", "sanjose", "tokyo"};

// The real files, except those replaced by text.
class Overlay final : public config::FileSource {
public:
    std::map<std::string, std::string> replaced;
    Result<std::string> read_text(const std::string& path) const override {
        auto it = replaced.find(path);
        if (it != replaced.end()) return it->second;
        return config::system_files().read_text(path);
    }
    Result<config::Secret> read_secret(const std::string& path) const override {
        return config::system_files().read_secret(path);
    }
};

std::string fingerprint_of(const std::string& site, const config::FileSource& files) {
    const std::string path = source_dir() + "/examples/acme/sites/" + site + ".toml";
    auto text = config::system_files().read_text(path);
    REQUIRE(bool(text));
    LoadResult lr = load_site_text(*text, path, files);
    INFO(site << ": " << (lr.errors.empty() ? std::string() : format_diagnostic(lr.errors[0])));
    REQUIRE(lr.ok());
    PlanOutcome po = plan(*lr.intent);
    REQUIRE(po.ok());
    REQUIRE(po.state.groups.size() == 1);
    return po.state.groups[0].fingerprint;
}

}  // namespace

TEST_CASE("all five acme sites compute the same fingerprint for group corp") {
    REQUIRE(std::system(("'" + source_dir() + "/examples/fix-permissions'").c_str()) == 0);
    Overlay real;
    std::set<std::string> seen;
    for (const char* site : kAcmeSites) seen.insert(fingerprint_of(site, real));
    CHECK(seen.size() == 1);
    CHECK(seen.begin()->size() == 32);
}

TEST_CASE("a member's exports changed in one site's copy of the list: that site's fingerprint differs") {
    REQUIRE(std::system(("'" + source_dir() + "/examples/acme/../fix-permissions'").c_str()) == 0);
    const std::string list_path = source_dir() + "/examples/acme/sites/../corp-members.toml";
    auto list = config::system_files().read_text(list_path);
    REQUIRE(bool(list));
    const std::string from = "exports = [\"10.50.20.0/24\", \"10.50.100.0/24\"]";  // tokyo's
    const size_t at = list->find(from);
    REQUIRE(at != std::string::npos);
    Overlay stale;
    stale.replaced[list_path] = list->substr(0, at) + "exports = [\"10.50.20.0/24\"]" + list->substr(at + from.size());

    Overlay real;
    const std::string consistent = fingerprint_of("london", real);
    CHECK(fingerprint_of("london", stale) != consistent);
    CHECK(fingerprint_of("paris", real) == consistent);
    // Tokyo itself plans from its site file, not its entry: unchanged there.
    CHECK(fingerprint_of("tokyo", stale) == consistent);
}
