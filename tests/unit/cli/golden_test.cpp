// Golden plans: every shipped example site is loaded, planned and rendered
// (JSON and text); the output must equal tests/golden/<example>.{json,txt}.
// A planner change that moves any kernel object shows up here as a diff.
// Regenerate after an intended change with AVPN_UPDATE_GOLDEN=1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "orchestrator/cli/load.hpp"
#include "orchestrator/cli/render_plan.hpp"

namespace fs = std::filesystem;

namespace {

std::string source_dir() {
    const char* s = std::getenv("AVPN_SOURCE_DIR");
    return s ? s : ".";
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Plans name key files by path; make the checkout location irrelevant.
std::string relative_to_source(std::string text) {
    const std::string src = fs::canonical(source_dir()).string() + "/";
    for (size_t at; (at = text.find(src)) != std::string::npos;) text.replace(at, src.size(), "");
    return text;
}

std::vector<fs::path> example_sites() {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(source_dir()) / "examples"))
        if (e.path().extension() == ".toml" && e.path().parent_path().filename() == "sites") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

void compare_or_update(const fs::path& golden, const std::string& actual) {
    if (std::getenv("AVPN_UPDATE_GOLDEN")) {
        std::ofstream(golden) << actual;
        return;
    }
    REQUIRE_MESSAGE(fs::exists(golden), "missing golden file " << golden << " (run with AVPN_UPDATE_GOLDEN=1)");
    std::string expected = read(golden);
    if (expected != actual) {
        // Point at the first differing line instead of dumping two plans.
        std::istringstream a(expected), b(actual);
        std::string la, lb;
        int line = 0;
        while (true) {
            ++line;
            bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
            if (ea && eb) break;
            if (ea || eb || la != lb) {
                FAIL_CHECK(golden.string() << ":" << line << ": expected '" << la << "', got '" << lb << "'");
                return;
            }
        }
    }
}

}  // namespace

TEST_CASE("every example site plans exactly as its golden file says") {
    REQUIRE(std::system(("bash " + source_dir() + "/examples/fix-permissions").c_str()) == 0);
    auto sites = example_sites();
    REQUIRE(sites.size() >= 8);  // acme (5 sites) and mesh (3 hubs)
    for (const fs::path& site : sites) {
        CAPTURE(site);
        auto loaded = avpn::cli::load_site_file(fs::canonical(site).string(), avpn::runtime::LoadFor::check, false);
        REQUIRE(loaded.exit_code == 0);
        REQUIRE(loaded.state);
        std::string stem = site.parent_path().parent_path().filename().string() + "-" + site.stem().string();
        fs::path golden = fs::path(source_dir()) / "tests" / "golden" / stem;
        compare_or_update(golden.string() + ".json", relative_to_source(avpn::cli::render_plan_json(*loaded.state)));
        compare_or_update(golden.string() + ".txt", relative_to_source(avpn::cli::render_plan_text(*loaded.state)));
    }
}

TEST_CASE("plans are deterministic: planning twice renders identically") {
    REQUIRE(std::system(("bash " + source_dir() + "/examples/fix-permissions").c_str()) == 0);
    for (const fs::path& site : example_sites()) {
        CAPTURE(site);
        auto a = avpn::cli::load_site_file(site.string(), avpn::runtime::LoadFor::check, false);
        auto b = avpn::cli::load_site_file(site.string(), avpn::runtime::LoadFor::check, false);
        REQUIRE(a.state);
        REQUIRE(b.state);
        CHECK(avpn::cli::render_plan_json(*a.state) == avpn::cli::render_plan_json(*b.state));
    }
}
