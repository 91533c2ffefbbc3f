// The write-ahead journal's file (reconcile/apply_journal.hpp): what a
// crashed run leaves must read back exactly, a line cut short by the crash
// must not count, and anything else unreadable must stop the run rather
// than be taken as "nothing noted".
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "orchestrator/reconcile/apply_journal.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

using namespace avpn;

namespace {
std::string journal_dir() {
    char tmpl[] = "/tmp/avpn-journal-XXXXXX";
    return mkdtemp(tmpl);
}
void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
bool exists(const std::string& path) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0;
}
}  // namespace

TEST_CASE("noted links and connections read back in order; none noted reads as empty") {
    ApplyJournal j(journal_dir());
    auto none = j.read();
    REQUIRE(none);
    CHECK(none->empty());
    CHECK(*j.size() == 0);
    REQUIRE(j.note_link({"avpn-corp", 41}));
    REQUIRE(j.note_ipsec({"avpn-aws", "avpn-azure"}));
    REQUIRE(j.note_link({"avx-aws", 4294967295u}));
    auto back = j.read();
    REQUIRE(back);
    CHECK(back->links == std::vector<JournaledLink>{{"avpn-corp", 41}, {"avx-aws", 4294967295u}});
    CHECK(back->ipsec == std::vector<std::string>{"avpn-aws", "avpn-azure"});
    struct stat st{};
    REQUIRE(::stat(j.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a last line cut short by a crash is ignored; a damaged line is an error naming it") {
    ApplyJournal j(journal_dir());
    REQUIRE(j.note_link({"avpn-corp", 7}));
    std::ifstream in(j.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    write(j.path(), text + "link avpn-gu");  // the append the kill interrupted
    auto cut = j.read();
    REQUIRE(cut);
    CHECK(cut->links == std::vector<JournaledLink>{{"avpn-corp", 7}});

    for (const char* bad : {"link avpn-x notanumber\n", "link avpn-x 99999999999\n", "ipsec a b\n", "route 1\n",
                            "link  7\n"}) {
        write(j.path(), text + bad);
        auto r = j.read();
        REQUIRE_FALSE(r);
        CHECK(r.error().where == j.path() + ":3");  // after the version and the good line
        CHECK(r.error().why.find("--force-scan") != std::string::npos);
    }
    write(j.path(), "version 2\n");
    CHECK_FALSE(j.read());
}

TEST_CASE("names that could not be read back are refused when noted") {
    ApplyJournal j(journal_dir());
    CHECK_FALSE(j.note_link({"two words", 1}));
    CHECK_FALSE(j.note_link({"", 1}));
    CHECK_FALSE(j.note_ipsec({"line\nbreak"}));
    CHECK_FALSE(exists(j.path()));
}

TEST_CASE("truncate keeps what an earlier run noted; clear and a saved record remove the journal") {
    std::string dir = journal_dir();
    ApplyJournal j(dir);
    REQUIRE(j.note_link({"avpn-old", 3}));
    uint64_t earlier = *j.size();
    REQUIRE(j.note_link({"avpn-new", 9}));
    REQUIRE(j.truncate(earlier));
    CHECK(j.read()->links == std::vector<JournaledLink>{{"avpn-old", 3}});
    REQUIRE(j.truncate(0));  // this run was the first: nothing stays
    CHECK_FALSE(exists(j.path()));

    REQUIRE(j.note_link({"avpn-new", 9}));
    StateDir sd(dir);
    REQUIRE(sd.save(AppliedRecord{"s", "/etc/avpn/s.toml", {{"avpn-new"}, {}}, {}}, ""));
    CHECK_FALSE(exists(j.path()));
    REQUIRE(j.note_link({"avpn-new", 9}));
    REQUIRE(sd.clear());
    CHECK_FALSE(exists(j.path()));
}

TEST_CASE("a symlink in the journal's place is not followed") {
    std::string dir = journal_dir();
    std::string target = dir + "/elsewhere";
    write(target, "precious\n");
    REQUIRE(::symlink(target.c_str(), (dir + "/" + kApplyJournalFile).c_str()) == 0);
    ApplyJournal j(dir);
    CHECK_FALSE(j.note_link({"avpn-corp", 1}));
    CHECK_FALSE(j.read());
    std::ifstream in(target);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK(text == "precious\n");
}
