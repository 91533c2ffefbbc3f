// The reconciler: the pure plan, the list-conns cross-check against charon's
// real output shape, and whole applies against the scripted charon.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "fake_charon.hpp"
#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/reconcile.hpp"
#include "plugins/vici/status.hpp"
#include "vici_fixtures.hpp"

using namespace avpn::vici;

namespace {

Desired desired(const Connection& c) {
    auto msg = load_conn_message(c);
    REQUIRE(msg.ok());
    return Desired{c, *msg, *fingerprint(*msg)};
}

// list-conn event body as charon 5.9.8 reports the policy fixture (shape
// taken from `swanctl --list-conns --raw` against a real charon).
Section listed_policy(const char* dpd_action = "start") {
    Section s;
    s.add_list("local_addrs", {"192.0.2.1"});
    s.add_list("remote_addrs", {"198.51.100.7"});
    s.add_value("version", "IKEv2");
    s.add_value("reauth_time", "0");
    s.add_value("rekey_time", "28800");
    s.add_value("unique", "UNIQUE_NO");
    s.add_value("dpd_delay", "30");
    Section& l = s.add_section("local-1");
    l.add_value("id", "branch.example.net");
    l.add_value("class", "pre-shared key");
    Section& r = s.add_section("remote-1");
    r.add_value("id", "hq.example.net");
    r.add_value("class", "pre-shared key");
    Section& ch = s.add_section("children").add_section("avpn-branch-hq-child");
    ch.add_value("mode", "TUNNEL");
    ch.add_value("rekey_time", "3600");
    ch.add_value("dpd_action", dpd_action);
    ch.add_value("close_action", "start");
    ch.add_list("local-ts", {"10.1.0.0/24", "10.1.1.0/24"});
    ch.add_list("remote-ts", {"10.20.0.0/16"});
    return s;
}

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/avpn-reconcile-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { (void)std::system(("rm -rf " + path).c_str()); }
    std::string psk(const std::string& name, const std::string& secret) const {
        const std::string p = path + "/" + name;
        std::ofstream(p) << secret;
        ::chmod(p.c_str(), 0600);
        return p;
    }
};

Client client_for(const test::FakeCharon& server) {
    ClientOptions o;
    o.socket_path = server.path();
    o.timeout = std::chrono::milliseconds(2000);
    return Client(o);
}

}  // namespace

TEST_CASE("plan: new, unchanged, changed, missing from charon, leftovers; foreign names untouched") {
    const Desired a = desired(fixtures::policy_tunnel());
    const Desired b = desired(fixtures::aws_tunnel());
    const Desired c = desired(fixtures::azure_tunnel());
    Observed o;
    o.conns = {a.conn.name, b.conn.name, "avpn-gone", "office-vpn"};
    o.shared_ids = {a.conn.name, "avpn-gone", "office-psk"};
    Fingerprints last = {{a.conn.name, a.fingerprint}, {b.conn.name, "0" + b.fingerprint.substr(1)},
                         {c.conn.name, c.fingerprint}};
    std::set<std::string> wanted = {a.conn.name, b.conn.name, c.conn.name};
    ReconcilePlan p = plan_reconcile({a, b, c}, wanted, o, last, false);
    CHECK(p.keep == std::vector<size_t>{0});     // same fingerprint, loaded
    CHECK(p.load == std::vector<size_t>{1, 2});  // changed; recorded but charon lost it (restart)
    CHECK(p.unload == std::vector<std::string>{"avpn-gone"});
    CHECK(p.unload_shared == std::vector<std::string>{"avpn-gone"});
}

TEST_CASE("plan: a desired connection whose mapping failed is not unloaded") {
    Observed o;
    o.conns = {"avpn-broken"};
    ReconcilePlan p = plan_reconcile({}, {"avpn-broken"}, o, {}, false);
    CHECK(p.unload.empty());
}

TEST_CASE("plan: without a recorded fingerprint a loaded connection is reloaded (charon keeps identical configs)") {
    const Desired a = desired(fixtures::policy_tunnel());
    Observed o;
    o.conns = {a.conn.name};
    ReconcilePlan p = plan_reconcile({a}, {a.conn.name}, o, {}, false);
    CHECK(p.load == std::vector<size_t>{0});
}

TEST_CASE("list-conns cross-check: agreement, and each reported field that can disagree") {
    const Connection c = fixtures::policy_tunnel();
    CHECK(listed_matches(c, listed_policy()));
    Connection d = c;
    d.remote_addrs = {"198.51.100.8"};
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.child.remote_ts = {"10.21.0.0/16"};
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.remote_id = "other";
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.dpd_delay = 10;
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.child.rekey_time = 7200;
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.child.name = "avpn-other-child";
    CHECK_FALSE(listed_matches(d, listed_policy()));
    d = c;
    d.child.dpd_action = "clear";
    CHECK_FALSE(listed_matches(d, listed_policy()));
    CHECK(listed_matches(d, listed_policy("none")));  // charon lists "clear" as "none"
    d = c;
    d.child.esp_proposals = {"aes128-sha1"};  // not reported by list-conns: cannot disagree
    CHECK(listed_matches(d, listed_policy()));

    const Desired a = desired(c);
    Observed o;
    o.conns = {c.name};
    o.listed[c.name] = listed_policy();
    o.listed[c.name].add_value("extra", "ignored");
    CHECK(plan_reconcile({a}, {c.name}, o, {{c.name, a.fingerprint}}, true).keep.size() == 1);
    Section other;  // someone reloaded avpn-branch-hq by hand with another peer
    other.add_list("local_addrs", {"192.0.2.1"});
    o.listed[c.name] = other;
    CHECK(plan_reconcile({a}, {c.name}, o, {{c.name, a.fingerprint}}, true).load.size() == 1);
}

TEST_CASE("reconcile against a charon: load, re-apply unchanged, change one, remove one, foreign untouched") {
    test::FakeCharon charon;
    TempDir dir;
    {
        std::lock_guard l(charon.mu());
        charon.conns["office-vpn"] = Section{};  // somebody else's
        charon.shared["office-psk"] = "x";
    }
    std::vector<Connection> want = {fixtures::policy_tunnel(), fixtures::aws_tunnel()};
    want[0].psk_file = dir.psk("a", "one");
    want[1].psk_file = dir.psk("b", "two");
    Client client = client_for(charon);
    ReconcileOptions opt;
    opt.state_path = dir.path + "/vici.state";
    opt.verify_listed = false;

    auto r1 = reconcile(client, want, opt);
    REQUIRE_MESSAGE(r1.ok(), r1.error().str());
    CHECK(r1->ok());
    CHECK(r1->loaded.size() == 2);
    CHECK(r1->unchanged.empty());
    CHECK(r1->initiated.empty());  // start_action=start: charon initiates on load

    auto r2 = reconcile(client, want, opt);
    REQUIRE(r2.ok());
    CHECK(r2->loaded.empty());
    CHECK(r2->unchanged.size() == 2);
    CHECK(r2->initiated.size() == 2);  // initiators without an IKE_SA get initiated
    {
        std::lock_guard l(charon.mu());
        CHECK(charon.loads[want[0].name] == 1);
        CHECK(charon.initiated[0] == want[0].name + "/-1");
        charon.active = {want[0].name, want[1].name};
    }

    want[1].child.rekey_time = 1800;
    auto r3 = reconcile(client, want, opt);
    REQUIRE(r3.ok());
    CHECK(r3->loaded == std::vector<std::string>{want[1].name});
    CHECK(r3->unchanged == std::vector<std::string>{want[0].name});
    CHECK(r3->initiated.empty());  // both have IKE_SAs

    auto r4 = reconcile(client, {want[0]}, opt);
    REQUIRE(r4.ok());
    CHECK(r4->unloaded == std::vector<std::string>{want[1].name});
    std::lock_guard l(charon.mu());
    CHECK(charon.conns.contains("office-vpn"));
    CHECK(charon.shared.contains("office-psk"));
    CHECK_FALSE(charon.shared.contains(want[1].name));
    CHECK(charon.shared.at(want[0].name) == "one");
    CHECK(charon.loads[want[0].name] == 1);  // never reloaded
}

TEST_CASE("reconcile: a bad PSK file fails that connection only and is reported without the secret") {
    test::FakeCharon charon;
    TempDir dir;
    std::vector<Connection> want = {fixtures::policy_tunnel(), fixtures::aws_tunnel()};
    want[0].psk_file = dir.psk("a", "one");
    want[1].psk_file = dir.path + "/missing";
    Client client = client_for(charon);
    ReconcileOptions opt;
    opt.verify_listed = false;
    auto r = reconcile(client, want, opt);
    REQUIRE(r.ok());
    CHECK(r->loaded == std::vector<std::string>{want[0].name});
    REQUIRE(r->errors.size() == 1);
    CHECK(r->errors[0].name == want[1].name);
    std::lock_guard l(charon.mu());
    CHECK_FALSE(charon.conns.contains(want[1].name));
}

TEST_CASE("fingerprint state: round trip, damaged lines skipped, missing file empty") {
    TempDir dir;
    const std::string path = dir.path + "/state";
    CHECK(load_fingerprints(path).empty());
    Fingerprints fps = {{"avpn-a", std::string(64, 'a')}, {"avpn-b", std::string(64, '0')}};
    REQUIRE(save_fingerprints(path, fps).ok());
    CHECK(load_fingerprints(path) == fps);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ofstream(path, std::ios::app) << "avpn-c nothex\ngarbage\navpn-d " << std::string(64, 'f') << " extra\n";
    size_t skipped = 0;
    CHECK(load_fingerprints(path, &skipped) == fps);
    CHECK(skipped == 3);
    CHECK_FALSE(save_fingerprints("/nonexistent/dir/state", fps).ok());
}

TEST_CASE("reconcile dry run: the report says what would change, charon is not changed") {
    test::FakeCharon charon;
    TempDir dir;
    std::vector<Connection> want = {fixtures::policy_tunnel()};
    want[0].psk_file = dir.psk("a", "one");
    {
        std::lock_guard l(charon.mu());
        charon.conns["avpn-old"] = Section{};
    }
    Client client = client_for(charon);
    ReconcileOptions opt;
    opt.verify_listed = false;
    opt.dry_run = true;
    auto r = reconcile(client, want, opt);
    REQUIRE(r.ok());
    CHECK(r->loaded == std::vector<std::string>{want[0].name});
    CHECK(r->unloaded == std::vector<std::string>{"avpn-old"});
    std::lock_guard l(charon.mu());
    CHECK_FALSE(charon.conns.contains(want[0].name));
    CHECK(charon.conns.contains("avpn-old"));
    CHECK(charon.shared.empty());
}

TEST_CASE("unload_owned: exactly the named avpn connections and keys; a responder's SA is terminated") {
    test::FakeCharon charon;
    {
        std::lock_guard l(charon.mu());
        for (const char* n : {"avpn-a", "avpn-b", "avpn-keep", "office-vpn"}) {
            charon.conns[n] = Section{};
            charon.shared[n] = "x";
        }
        charon.active = {"avpn-b", "avpn-keep"};  // avpn-b: a responder's SA outlives unload-conn
    }
    Client client = client_for(charon);
    auto r = unload_owned(client, {"avpn-a", "avpn-b", "office-vpn", "avpn-gone"});
    REQUIRE(r.ok());
    CHECK(r->unloaded == std::vector<std::string>{"avpn-a", "avpn-b"});
    REQUIRE(r->errors.size() == 1);
    CHECK(r->errors[0].name == "office-vpn");  // refused: not avpn's
    std::lock_guard l(charon.mu());
    CHECK(charon.conns.contains("office-vpn"));
    CHECK(charon.shared.contains("office-vpn"));
    CHECK(charon.conns.contains("avpn-keep"));
    CHECK_FALSE(charon.conns.contains("avpn-a"));
    CHECK_FALSE(charon.shared.contains("avpn-b"));
    CHECK(charon.terminated == std::vector<std::string>{"avpn-b"});
}

// charon refuses a terminate only in words; the reconciler decides on what
// list-sas says afterwards, so the same words count as a failure while the
// SA is still up.
TEST_CASE("unload_owned: a refused terminate is fine when the SA is gone, a failure while it stays") {
    for (bool vanishes : {true, false}) {
        CAPTURE(vanishes);
        test::FakeCharon charon;
        {
            std::lock_guard l(charon.mu());
            charon.conns["avpn-b"] = Section{};
            charon.active = {"avpn-b", "avpn-keep"};
            charon.terminate_refused["avpn-b"] = vanishes;
        }
        Client client = client_for(charon);
        auto r = unload_owned(client, {"avpn-b"});
        REQUIRE(r.ok());
        CHECK(r->unloaded == std::vector<std::string>{"avpn-b"});
        {
            std::lock_guard l(charon.mu());
            CHECK(charon.terminated == std::vector<std::string>{"avpn-b"});
        }
        if (vanishes) {
            CHECK(r->errors.empty());
        } else {
            REQUIRE(r->errors.size() == 1);
            CHECK(r->errors[0].name == "avpn-b");
            CHECK(r->errors[0].error.what == "vici command");
        }
    }
}

TEST_CASE("failure record: round trip, newest wins, damaged lines and foreign names skipped") {
    TempDir dir;
    const std::string path = dir.path + "/ipsec.failures";
    CHECK(load_failures(path).all().empty());
    FailureTracker t;
    t.remember("avpn-a", Failure{"authentication failed", "received AUTHENTICATION_FAILED\tnotify\nerror", 100});
    t.remember("avpn-b", Failure{"peer not responding", "giving up after 3 retransmits", 200});
    t.remember("avpn-b", Failure{"no proposal chosen", "older", 150});  // older: ignored
    REQUIRE(save_failures(path, t).ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ofstream(path, std::ios::app) << "garbage\navpn-c\tnotanumber\tx\ty\noffice\t5\tauthentication failed\tz\n";
    FailureTracker back = load_failures(path);
    CHECK(back.all().size() == 2);
    REQUIRE(back.last("avpn-a"));
    CHECK(back.last("avpn-a")->reason == "authentication failed");
    CHECK(back.last("avpn-a")->detail == "received AUTHENTICATION_FAILED notify error");  // one line
    CHECK(back.last("avpn-a")->at == 100);
    REQUIRE(back.last("avpn-b"));
    CHECK(back.last("avpn-b")->reason == "peer not responding");
    back.forget("avpn-a");
    CHECK_FALSE(back.last("avpn-a"));
}
