#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "orchestrator/reconcile/state_dir.hpp"

using namespace avpn;

namespace {
std::string temp_dir() {
    char tmpl[] = "/tmp/avpn-state-XXXXXX";
    return mkdtemp(tmpl);
}
}  // namespace

TEST_CASE("applied record round-trips and the config copy is private") {
    std::string dir = temp_dir() + "/state";
    StateDir sd(dir);
    REQUIRE(sd.lock());
    auto empty = sd.load();
    REQUIRE(empty);
    CHECK(empty->owned.links.empty());

    AppliedRecord r;
    r.site = "london";
    r.config_path = "/etc/avpn/site.toml";
    r.owned.links = {"avpn-corp", "avx-aws"};
    r.owned.tables = {7100, 7101};
    r.ipsec_connections = {"avpn-aws"};
    REQUIRE(sd.save(r, "[site]\nname = \"london\"\n"));
    auto back = sd.load();
    REQUIRE(back);
    CHECK(back->site == "london");
    CHECK(back->owned.links == r.owned.links);
    CHECK(back->owned.tables == r.owned.tables);
    CHECK(back->ipsec_connections == r.ipsec_connections);

    struct stat st{};
    REQUIRE(stat((dir + "/applied-site.toml").c_str(), &st) == 0);
    CHECK((st.st_mode & 077) == 0);
    CHECK(access((dir + "/applied.state.tmp").c_str(), F_OK) != 0);  // no temp left behind

    REQUIRE(sd.clear());
    CHECK(sd.load()->site.empty());
}

TEST_CASE("a second lock on the same directory is refused") {
    std::string dir = temp_dir();
    StateDir a(dir), b(dir);
    REQUIRE(a.lock());
    auto s = b.lock();
    REQUIRE_FALSE(s);
    CHECK(s.error().what == "locked");
}

TEST_CASE("a corrupt record is an error naming the line") {
    std::string dir = temp_dir();
    std::ofstream(dir + "/applied.state") << "version 1\ntable seven\n";
    StateDir sd(dir);
    auto r = sd.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().where == dir + "/applied.state:2");
}
