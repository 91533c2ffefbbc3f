// wireguard-go supervision without root: fake_wireguard_go stands in for the
// daemon. The real daemon, avpnd and SIGKILL of avpnd are in
// tests/netns/wireguard_go.sh.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/wireguard/supervisor.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

struct Fixture {
    TempDir dir;
    std::vector<std::string> logged;

    Fixture() { setenv("AVPN_FAKE_UAPI_DIR", dir.path().c_str(), 1); }
    ~Fixture() {  // whatever still runs from this test
        for (const auto& [ifname, r] : load_daemon_records(record()))
            if (r.pid > 0) kill(r.pid, SIGKILL);
    }
    WireguardGoOptions launch() const {
        return {.program = FAKE_WIREGUARD_GO, .socket_dir = dir.path(), .start_timeout_ms = 2000, .own_scope = false};
    }
    std::string record() const { return daemon_record_path(dir.path()); }
    std::unique_ptr<Supervisor> open() {
        auto s = Supervisor::open({.launch = launch(), .record_path = record(),
                                   .log = [this](const std::string& l) { logged.push_back(l); },
                                   .reap_children = true});
        REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
        return std::move(*s);
    }
};

bool readable_within(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

}  // namespace

TEST_CASE("the record round-trips and skips what it cannot read") {
    TempDir dir;
    std::map<std::string, DaemonRecord> records{{"avpn0", {42, 2, "signal SIGKILL", 1700000000}}, {"avpn1", {7, 0, "", 0}}};
    REQUIRE(save_daemon_records(daemon_record_path(dir.path()), records).ok());
    CHECK(load_daemon_records(daemon_record_path(dir.path())) == records);
    std::ofstream(daemon_record_path(dir.path()), std::ios::app) << "a/b\t1\t0\t0\t\nshort\t1\n";
    CHECK(load_daemon_records(daemon_record_path(dir.path())) == records);
    CHECK(load_daemon_records(dir.file("missing")).empty());
}

TEST_CASE("a started daemon that is killed is reaped, restarted, logged and counted") {
    Fixture f;
    auto s = f.open();
    auto first = s->start("avwgs0");
    REQUIRE(first.ok());
    CHECK(s->daemons().at("avwgs0") == DaemonRecord{*first, 0, "", 0});
    CHECK_FALSE(s->reap());
    kill(*first, SIGKILL);
    REQUIRE(readable_within(s->fd(), 2000));
    CHECK(s->reap());
    CHECK_FALSE(readable_within(s->fd(), 0));
    CHECK(s->daemons().at("avwgs0").pid == 0);
    auto second = s->start("avwgs0");
    REQUIRE(second.ok());
    const DaemonRecord& r = s->daemons().at("avwgs0");
    CHECK(r.pid == *second);
    CHECK(r.restarts == 1);
    CHECK(r.last_exit == "signal SIGKILL");
    REQUIRE(f.logged.size() == 1);
    CHECK(f.logged[0] == "wireguard-go for avwgs0 (pid " + std::to_string(*first) +
                             ") exited (signal SIGKILL): restarted as pid " + std::to_string(*second));
    CHECK(load_daemon_records(f.record()) == s->daemons());
}

TEST_CASE("a daemon found on its socket is adopted, not restarted; its exit status is unknown") {
    Fixture f;
    auto pid = start_wireguard_go("avwgs0", f.launch());  // by "an earlier avpn"
    REQUIRE(pid.ok());
    auto s = f.open();
    s->adopt("avwgs0");
    s->adopt("avwgs0");  // once is enough
    s->adopt("avwgs9");  // nothing answers there
    REQUIRE(f.logged.size() == 1);
    CHECK(f.logged[0].starts_with("adopted wireguard-go for avwgs0 (pid " + std::to_string(*pid) + ")"));
    CHECK(s->daemons().size() == 1);
    CHECK(s->daemons().at("avwgs0").pid == *pid);
    kill(*pid, SIGKILL);
    REQUIRE(readable_within(s->fd(), 2000));
    auto next = s->start("avwgs0");  // reaps on the way, as when the converge comes first
    REQUIRE(next.ok());
    CHECK(f.logged.back().ends_with("exited (status unknown, not avpnd's child): restarted as pid " + std::to_string(*next)));
    CHECK(s->daemons().at("avwgs0").restarts == 1);
}

TEST_CASE("a released interface's daemon may exit: reaped, but no crash and no record") {
    Fixture f;
    auto s = f.open();
    auto pid = s->start("avwgs0");
    REQUIRE(pid.ok());
    s->release("avwgs0");
    kill(*pid, SIGKILL);
    // Still avpnd's child: reaped, so no zombie stays, but not restarted.
    REQUIRE(readable_within(s->fd(), 2000));
    CHECK_FALSE(s->reap());
    CHECK_FALSE(readable_within(s->fd(), 0));
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(*pid)));
    CHECK(s->daemons().empty());
    CHECK(load_daemon_records(f.record()).empty());
    REQUIRE(s->start("avwgs0").ok());
    CHECK(s->daemons().at("avwgs0").restarts == 0);
}

TEST_CASE("a new avpnd keeps the count of a daemon that still runs and notes one that died unseen") {
    Fixture f;
    pid_t kept = 0, lost = 0;
    {
        auto s = f.open();
        auto a = s->start("avwgs0");
        auto b = s->start("avwgs1");
        REQUIRE((a.ok() && b.ok()));
        kill(*a, SIGKILL);
        REQUIRE(readable_within(s->fd(), 2000));
        s->reap();
        auto again = s->start("avwgs0");
        REQUIRE(again.ok());
        kept = *again;
        lost = *b;
    }  // "avpnd" is gone; its daemons run on
    kill(lost, SIGKILL);
    f.logged.clear();
    auto s = f.open();
    s->adopt("avwgs0");
    CHECK(s->daemons().at("avwgs0") == DaemonRecord{kept, 1, "signal SIGKILL", s->daemons().at("avwgs0").last_exit_at});
    auto fresh = s->start("avwgs1");
    REQUIRE(fresh.ok());
    CHECK(f.logged.back() == "wireguard-go for avwgs1 (pid " + std::to_string(lost) +
                                ") exited (status unknown, while no avpnd watched it): restarted as pid " +
                                std::to_string(*fresh));
    CHECK(s->daemons().at("avwgs1").restarts == 1);
}
