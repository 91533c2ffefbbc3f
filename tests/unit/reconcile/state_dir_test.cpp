#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
    CHECK(s.error().code == EADDRINUSE);  // this namespace's writer lock refuses first
    CHECK(lock_held_elsewhere(s.error()));
}

// As an avpnd in another network namespace sharing the directory holds it.
TEST_CASE("the directory's own lock, held by another open of it, is refused with EWOULDBLOCK") {
    std::string dir = temp_dir();
    int holder = ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(holder >= 0);
    REQUIRE(::flock(holder, LOCK_EX | LOCK_NB) == 0);
    {
        StateDir sd(dir);
        auto s = sd.lock();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == EWOULDBLOCK);
        CHECK(lock_held_elsewhere(s.error()));
    }
    ::close(holder);
    StateDir after(dir);
    CHECK(after.lock());
}

TEST_CASE("a lock that fails for another reason carries its errno and is not 'held elsewhere'") {
    std::string dir = temp_dir();
    std::ofstream(dir + "/file") << "x";
    StateDir under_file(dir + "/file/state");  // mkdir through a regular file
    auto s = under_file.lock();
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ENOTDIR);
    CHECK_FALSE(lock_held_elsewhere(s.error()));
    CHECK_FALSE(lock_held_elsewhere(Error{"locked", dir, "another avpnctl apply or avpnd holds the lock"}));
}

TEST_CASE("a corrupt record is an error naming the line") {
    std::string dir = temp_dir();
    std::ofstream(dir + "/applied.state") << "version 1\ntable seven\n";
    StateDir sd(dir);
    auto r = sd.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().where == dir + "/applied.state:2");
}
