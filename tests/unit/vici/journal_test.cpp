// charon's journal: what a failed apply did is undone newest first and leaves
// the scripted charon's store exactly as before; what has no inverse is said.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "fake_charon.hpp"
#include "plugins/vici/journal.hpp"
#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/reconcile.hpp"
#include "vici_fixtures.hpp"

using namespace avpn::vici;

namespace {

struct Dir {
    std::string path;
    Dir() {
        char t[] = "/tmp/avpn-journal-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~Dir() { (void)std::system(("rm -rf " + path).c_str()); }
    std::string psk(const std::string& name, const std::string& secret) const {
        const std::string p = path + "/" + name;
        std::ofstream(p) << secret;
        ::chmod(p.c_str(), 0600);
        return p;
    }
};

Connection tunnel(const std::string& name, const Dir& dir) {
    Connection c = fixtures::route_based(name, "198.51.100.7", 7);
    c.psk_file = dir.psk(name, "secret-of-" + name);
    return c;
}

Applied applied_of(const std::vector<Connection>& conns) {
    Applied a;
    for (const Connection& c : conns) a[c.name] = *applied_conn(c);
    return a;
}

Client client_for(const test::FakeCharon& server) {
    ClientOptions o;
    o.socket_path = server.path();
    o.timeout = std::chrono::milliseconds(2000);
    return Client(o);
}

struct Store {
    std::map<std::string, Section> conns;
    std::map<std::string, std::string> shared;
    bool operator==(const Store&) const = default;
};

Store store_of(test::FakeCharon& charon) {
    std::lock_guard l(charon.mu());
    return {charon.conns, charon.shared};
}

}  // namespace

TEST_CASE("journal: a refused load-conn undoes the replace and the adds newest first; the run stops there") {
    test::FakeCharon charon;
    Dir dir;
    Client client = client_for(charon);
    const Connection a = tunnel("avpn-a", dir), b = tunnel("avpn-b", dir);
    ReconcileOptions opt;
    opt.verify_listed = false;
    REQUIRE(reconcile(client, {a, b}, opt)->ok());
    const Applied previous = applied_of({a, b});
    const Store before = store_of(charon);

    Connection a2 = a;
    a2.child.rekey_time = 1800;                          // changed
    const Connection c = tunnel("avpn-c", dir), d = tunnel("avpn-d", dir);  // added; d refused
    {
        std::lock_guard l(charon.mu());
        charon.refuse.insert("load-conn avpn-d");
    }
    Journal journal;
    opt.journal = &journal;
    opt.previous = &previous;
    auto r = reconcile(client, {a2, c, d}, opt);  // b removed
    REQUIRE(r.ok());
    REQUIRE(r->errors.size() == 1);
    CHECK(r->errors[0].name == "avpn-d");
    CHECK(r->unloaded.empty());  // stopped before the unloads: b was never touched
    CHECK(store_of(charon) != before);

    UndoReport u = journal.undo(client);
    CHECK(u.errors.empty());
    CHECK(u.undone == std::vector<std::string>{"load-shared avpn-d (new)", "load-conn avpn-c (new)",
                                               "load-shared avpn-c (new)", "load-conn avpn-a (replaced)",
                                               "load-shared avpn-a (replaced)"});
    REQUIRE(u.not_undone.size() == 1);  // a is an initiator: its SA is new after the undo
    CHECK(u.not_undone[0].starts_with("load-conn avpn-a (replaced): the reload closed its SAs"));
    CHECK(store_of(charon) == before);  // a's old definition, its key; no c, no d
    CHECK(journal.empty());
}

TEST_CASE("journal: a failure after an unload loads the unloaded connection and its key again") {
    test::FakeCharon charon;
    Dir dir;
    Client client = client_for(charon);
    const Connection a = tunnel("avpn-a", dir), b = tunnel("avpn-b", dir);
    ReconcileOptions opt;
    opt.verify_listed = false;
    opt.state_path = dir.path + "/vici.fingerprints";  // a stays unchanged: only its key is loaded again
    REQUIRE(reconcile(client, {a, b}, opt)->ok());
    const Applied previous = applied_of({a, b});
    const Store before = store_of(charon);
    {
        std::lock_guard l(charon.mu());
        charon.refuse.insert("unload-shared avpn-b");
        charon.active = {"avpn-a"};
    }
    Journal journal;
    opt.journal = &journal;
    opt.previous = &previous;
    auto r = reconcile(client, {a}, opt);
    REQUIRE(r.ok());
    CHECK(r->unloaded == std::vector<std::string>{"avpn-b"});
    REQUIRE(r->errors.size() == 1);
    UndoReport u = journal.undo(client);
    CHECK(u.errors.empty());
    // a's key was loaded again from its file (unchanged a): its inverse does the same.
    CHECK(u.undone == std::vector<std::string>{"unload-conn avpn-b", "load-shared avpn-a (replaced)"});
    CHECK(store_of(charon) == before);
}

TEST_CASE("journal: without a record of the previous definition a replace is not undone, and says so") {
    test::FakeCharon charon;
    Dir dir;
    Client client = client_for(charon);
    const Connection a = tunnel("avpn-a", dir);
    ReconcileOptions opt;
    opt.verify_listed = false;
    REQUIRE(reconcile(client, {a}, opt)->ok());
    Connection a2 = a;
    a2.child.rekey_time = 1800;
    const Applied none;
    Journal journal;
    opt.journal = &journal;
    opt.previous = &none;
    {
        std::lock_guard l(charon.mu());
        charon.refuse.insert("load-conn avpn-z");
    }
    Connection z = tunnel("avpn-z", dir);
    auto r = reconcile(client, {a2, z}, opt);
    REQUIRE(r.ok());
    UndoReport u = journal.undo(client);
    CHECK(u.undone == std::vector<std::string>{"load-shared avpn-z (new)"});
    CHECK(u.not_undone == std::vector<std::string>{
                              "load-conn avpn-a (replaced): no record of its previous definition: charon keeps the new one",
                              "load-shared avpn-a (replaced): no record of the previous key's file: charon keeps the new key"});
}

TEST_CASE("applied definitions: round trip; missing or damaged file is empty") {
    Dir dir;
    const std::string path = dir.path + "/vici.applied";
    CHECK(load_applied(path).empty());
    const Applied a = applied_of({tunnel("avpn-a", dir), tunnel("avpn-b", dir)});
    REQUIRE(save_applied(path, a).ok());
    CHECK(load_applied(path) == a);
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("secret-of-") == std::string::npos);  // paths only, never a key
    std::ofstream(path) << "garbage";
    CHECK(load_applied(path).empty());
}
