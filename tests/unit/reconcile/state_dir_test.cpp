#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "orchestrator/reconcile/state_dir.hpp"

using namespace avpn;

namespace {
std::string temp_dir() {
    char tmpl[] = "/tmp/avpn-state-XXXXXX";
    return mkdtemp(tmpl);
}

std::set<std::string> names_in(const std::string& dir) {
    std::set<std::string> out;
    DIR* d = opendir(dir.c_str());
    while (d)
        if (dirent* e = readdir(d)) {
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
        } else {
            break;
        }
    if (d) closedir(d);
    return out;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
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
    CHECK(names_in(dir) == std::set<std::string>{"applied.state", "applied-site.toml", "lock"});  // no temp left

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

// Issue 12, case 4: a state directory someone else can write or steer is
// refused before anything is read from or written to it.
TEST_CASE("a pre-created world-writable state directory is refused, naming owner and mode") {
    std::string dir = temp_dir();
    REQUIRE(::chmod(dir.c_str(), 0777) == 0);
    {
        StateDir sd(dir);
        auto s = sd.lock();
        REQUIRE_FALSE(s);
        CHECK(s.error().what == "refuse state directory");
        CHECK(s.error().where == dir);
        CHECK(s.error().why.find("uid " + std::to_string(geteuid()) + " gid ") != std::string::npos);
        CHECK(s.error().why.find("mode 0777") != std::string::npos);
        CHECK(s.error().code == EPERM);
        CHECK_FALSE(lock_held_elsewhere(s.error()));
        CHECK(names_in(dir).empty());  // not even the lock file was made
        CHECK_FALSE(sd.load());        // nor is a record read from it
    }
    REQUIRE(::chmod(dir.c_str(), 0770) == 0);  // group-writable is as bad
    {
        StateDir group(dir);
        auto s = group.lock();
        REQUIRE_FALSE(s);
        CHECK(s.error().code == EPERM);
    }
    REQUIRE(::chmod(dir.c_str(), 0750) == 0);  // readable by a group is fine
    StateDir fine(dir);
    CHECK(fine.lock());
}

TEST_CASE("a state directory owned by another user is refused") {
    if (geteuid() != 0) return;  // only root can hand it to someone else
    std::string dir = temp_dir();
    REQUIRE(::chown(dir.c_str(), 65534, 65534) == 0);
    StateDir sd(dir);
    auto s = sd.lock();
    REQUIRE_FALSE(s);
    CHECK(s.error().why.find("owned by uid 65534 gid 65534, mode 0700") != std::string::npos);
}

TEST_CASE("a missing state directory is created 0700; a symlinked one is refused") {
    std::string base = temp_dir();
    {
        StateDir sd(base + "/new");
        REQUIRE(sd.lock());
        struct stat st{};
        REQUIRE(::stat((base + "/new").c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
        CHECK(st.st_uid == geteuid());
    }
    std::string elsewhere = temp_dir();
    REQUIRE(::symlink(elsewhere.c_str(), (base + "/link").c_str()) == 0);
    StateDir sd(base + "/link");
    auto s = sd.lock();
    REQUIRE_FALSE(s);
    CHECK(s.error().what == "refuse state directory");
    CHECK(s.error().why.find("symbolic link") != std::string::npos);
    CHECK(names_in(elsewhere).empty());
}

TEST_CASE("a temp-file symlink planted in the directory is not written through") {
    std::string dir = temp_dir(), outside = temp_dir() + "/precious";
    std::ofstream(outside) << "root:secret\n";
    for (const char* name : {"applied.state.tmp", "applied-site.toml.tmp"})
        REQUIRE(::symlink(outside.c_str(), (dir + "/" + name).c_str()) == 0);
    StateDir sd(dir);
    REQUIRE(sd.lock());
    AppliedRecord r;
    r.site = "hq";
    r.owned.links = {"avpn-demo"};
    REQUIRE(sd.save(r, "[site]\n"));
    CHECK(slurp(outside) == "root:secret\n");
    CHECK(sd.load()->owned.links == r.owned.links);
    struct stat st{};
    REQUIRE(::lstat((dir + "/applied.state").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("a symlink in place of the record itself is replaced, never followed") {
    std::string dir = temp_dir(), outside = temp_dir() + "/precious";
    std::ofstream(outside) << "version 2\nsite hq\nlink lo\nend\n";
    REQUIRE(::symlink(outside.c_str(), (dir + "/applied.state").c_str()) == 0);
    StateDir sd(dir);
    REQUIRE(sd.lock());
    auto r = sd.load();  // not read through the link
    REQUIRE_FALSE(r);
    CHECK(r.error().code == kDamagedRecord);
    CHECK(r.error().why.find("symbolic link") != std::string::npos);
    AppliedRecord rec;
    rec.site = "hq";
    REQUIRE(sd.save(rec, ""));
    CHECK(slurp(outside) == "version 2\nsite hq\nlink lo\nend\n");
    CHECK(sd.load());
}

TEST_CASE("a dangling lock symlink is refused and its target not created") {
    std::string dir = temp_dir(), target = temp_dir() + "/created-by-root";
    REQUIRE(::symlink(target.c_str(), (dir + "/lock").c_str()) == 0);
    StateDir sd(dir);
    auto s = sd.lock();
    REQUIRE_FALSE(s);
    CHECK(s.error().where == dir + "/lock");
    CHECK(s.error().why.find("symbolic link") != std::string::npos);
    CHECK(::access(target.c_str(), F_OK) != 0);
}

namespace {
// What load() says of a record with this text.
Result<AppliedRecord> load_text(const std::string& text) {
    std::string dir = temp_dir();
    std::ofstream(dir + "/applied.state") << text;
    StateDir sd(dir);
    return sd.load();
}
void check_damaged(const std::string& text, int line, const std::string& why) {
    CAPTURE(text);
    auto r = load_text(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == kDamagedRecord);
    CHECK(r.error().what == "damaged state record");
    CHECK(r.error().where.substr(r.error().where.rfind('/')) == "/applied.state:" + std::to_string(line));
    CHECK(r.error().why.find(why) != std::string::npos);
    CHECK(r.error().why.find("avpnctl down --force-scan --state-dir /tmp/avpn-state-") != std::string::npos);
}
}  // namespace

TEST_CASE("a record is validated before it may name anything to delete") {
    const std::string head = "version 2\nsite hq\nconfig /etc/avpn/hq.toml\n";
    CHECK(load_text(head + "link avpn-demo\ntable 7100\nipsec avpn-aws\nend\n"));
    CHECK(load_text("version 1\nsite hq\nlink avpn-demo\n"));  // written by avpn before the end line
    check_damaged("", 1, "empty");
    check_damaged("site hq\n", 1, "version");
    check_damaged(head + "link avpn-demo\n", 5, "cut short");               // truncated at a line end
    check_damaged(head + "link avpn-de", 4, "cut short");
    check_damaged(head + "link ../../etc\nend\n", 4, "link '../../etc'");  // '/'
    check_damaged(head + "link \nend\n", 4, "1 to 15 bytes");
    check_damaged(head + "link averyveryverylongname\nend\n", 4, "1 to 15 bytes");
    check_damaged(head + "link a b\nend\n", 4, "a space");
    check_damaged(head + "link a\tb\nend\n", 4, "link 'a\\x09b'");  // escaped in the message
    check_damaged(head + "table 254\nend\n", 4, "kernel's own");
    check_damaged(head + "table 0\nend\n", 4, "outside");
    check_damaged(head + "table 4294967296\nend\n", 4, "outside");
    check_damaged(head + "table -1\nend\n", 4, "not a number");
    check_damaged(head + "table +7\nend\n", 4, "not a number");
    check_damaged(head + "ipsec strongswan-conn\nend\n", 4, "avpn-NAME");
    check_damaged("version 2\nsite ../x\nend\n", 2, "not a site name");
    check_damaged("version 2\nsite a\nsite b\nend\n", 3, "second site");
    check_damaged("version 2\nlink avpn-demo\nend\n", 4, "names no site");
    check_damaged(head + "end\nlink lo\n", 5, "after the end");
    check_damaged(head + "rm -rf /\nend\n", 4, "unknown entry 'rm'");
}

TEST_CASE("a directory in place of the record is damage; clear removes it when empty") {
    std::string dir = temp_dir();
    REQUIRE(::mkdir((dir + "/applied.state").c_str(), 0700) == 0);
    StateDir sd(dir);
    REQUIRE(sd.lock());
    auto r = sd.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == kDamagedRecord);
    CHECK(r.error().where == dir + "/applied.state");
    CHECK(r.error().why.find("is a directory") != std::string::npos);
    CHECK(r.error().why.find("--force-scan") != std::string::npos);
    AppliedRecord rec;
    rec.site = "hq";
    auto saved = sd.save(rec, "");  // rename onto a directory fails, the temp file goes
    CHECK_FALSE(saved);
    REQUIRE(sd.clear());
    CHECK(names_in(dir) == std::set<std::string>{"lock"});
}

TEST_CASE("the directory's file primitives: read, atomic write, append, remove, all without following links") {
    std::string dir = temp_dir();
    StateDir sd(dir);
    REQUIRE(sd.lock());
    auto none = sd.read_file("apply.journal");
    REQUIRE(none);
    CHECK_FALSE(*none);
    REQUIRE(sd.append_file("apply.journal", "intent 1\n"));
    REQUIRE(sd.append_file("apply.journal", "done 1\n"));
    CHECK(**sd.read_file("apply.journal") == "intent 1\ndone 1\n");
    CHECK(*sd.file_size("apply.journal") == 16);
    REQUIRE(sd.truncate_file("apply.journal", 9));  // back to before the second append
    CHECK(**sd.read_file("apply.journal") == "intent 1\n");
    CHECK(*sd.file_size("absent") == 0);
    REQUIRE(sd.write_file("apply.journal", "replaced\n"));
    CHECK(**sd.read_file("apply.journal") == "replaced\n");
    struct stat st{};
    REQUIRE(::stat((dir + "/apply.journal").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(sd.remove_file("apply.journal"));
    REQUIRE(sd.remove_file("apply.journal"));  // gone already: fine
    CHECK_FALSE(*sd.read_file("apply.journal"));

    std::string outside = temp_dir() + "/precious";
    std::ofstream(outside) << "keep\n";
    REQUIRE(::symlink(outside.c_str(), (dir + "/apply.journal").c_str()) == 0);
    auto r = sd.read_file("apply.journal");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ELOOP);
    CHECK_FALSE(sd.append_file("apply.journal", "x\n"));
    CHECK_FALSE(sd.truncate_file("apply.journal", 0));
    CHECK_FALSE(sd.file_size("apply.journal"));
    CHECK(slurp(outside) == "keep\n");
    REQUIRE(sd.remove_file("apply.journal"));  // removes the link, not its target
    CHECK(slurp(outside) == "keep\n");

    StateDir missing(dir + "/never-made");  // status before any apply
    CHECK_FALSE(*missing.read_file("applied.state"));
    CHECK(missing.load()->site.empty());
}
