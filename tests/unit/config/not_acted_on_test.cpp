// Settings the language accepts but this version does not act on yet are
// kept apart (LoadResult::not_acted_on) with their place, so apply can refuse
// them by name while check and plan still show the site.
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

const Error* inactive(const LoadResult& r, const std::string& field) {
    for (const Error& e : r.not_acted_on)
        if (e.what == field) return &e;
    return nullptr;
}

}  // namespace

TEST_CASE("registries, active_active and [[firewall]] are accepted but marked not acted on") {
    std::string site = kHub;
    site.replace(site.find("[site]\n") + 7, 0, "active_active = true\n");
    auto r = load(site +
                      "[autovpn]\ngroup = \"a\"\nregistries = [\"192.0.2.1\", \"192.0.2.2\"]\ngroup_key_file = \"g.key\"\n"
                      "[[firewall]]\naction = \"deny\"\nfrom = \"any\"\nto = \"any\"\n",
                  [] {
                      MemFiles f;
                      f.put("/cfg/g.key", std::string(pub(9)) + "\n");
                      return f;
                  }());
    expect_ok(r);
    REQUIRE(r.not_acted_on.size() == 3);
    const Error* regs = inactive(r, "autovpn.registries");
    REQUIRE(regs);
    CHECK(regs->where.rfind("/cfg/site.toml:", 0) == 0);
    CHECK(regs->why.find("no registry client") != std::string::npos);
    const Error* aa = inactive(r, "site.active_active");
    REQUIRE(aa);
    CHECK(aa->why.find("one uplink at a time") != std::string::npos);
    const Error* fw = inactive(r, "firewall[0]");
    REQUIRE(fw);
    CHECK(fw->why.find("no firewall table") != std::string::npos);
}

TEST_CASE("the defaults act: nothing is marked") {
    auto r = load(kHub + "[autovpn]\ngroup = \"a\"\n");
    expect_ok(r);
    CHECK(r.not_acted_on.empty());
}
