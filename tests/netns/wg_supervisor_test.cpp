// wireguard-go supervision against the real daemon: starting it clean,
// finding it by its UAPI socket's peer credentials, restarts and their
// counts, release, a new Supervisor carrying the counts on, and the record
// file. avpnd itself, SIGKILL of avpnd and handshakes that survive it are in
// wireguard_go.sh.
//
// UAPI sockets live in the global /var/run/wireguard, so interface names
// carry this process's pid (avpnsup<pid><n>, at most 15 characters). The
// daemons run in this test's namespace and keep it alive: every one a case
// starts or finds is stopped by its Daemons guard, whatever way the case ends.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "plugins/wireguard/supervisor.hpp"
#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"
#include "wg_netns_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::netns_test;

namespace {

const std::string kId = std::to_string(getpid());
std::string ifname(int n) { return "avpnsup" + kId + std::to_string(n); }

void skip_unless_runnable() {
    if (run("command -v wireguard-go").code != 0) skip("wireguard-go is not installed");
    if (access("/dev/net/tun", R_OK | W_OK) != 0) skip("/dev/net/tun is missing");
    if (run("command -v ip").code != 0) skip("ip is missing");
}

std::string comm(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string c;
    std::getline(in, c);
    return c;
}

bool alive(pid_t pid) {  // and not a zombie
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    if (!std::getline(in, s)) return false;
    size_t paren = s.rfind(')');
    return paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] != 'Z';
}

// Waits until pid has exited (a zombie counts), up to ms.
bool exits_within(pid_t pid, int ms) {
    int fd = int(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return true;  // gone and reaped already
    pollfd p{fd, POLLIN, 0};
    bool gone = poll(&p, 1, ms) == 1;
    close(fd);
    return gone;
}

bool readable_within(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

bool link_exists(const std::string& name) { return run("ip link show dev " + name).code == 0; }

// The daemons of a case: on the way out, each one still answering on one of
// its interfaces' sockets or known by pid (and still a wireguard-go) is
// stopped, sockets left by killed daemons are removed, and zombies of the
// daemons this process adopted as subreaper are reaped.
struct Daemons {
    std::vector<std::string> ifnames;
    std::set<pid_t> pids;
    explicit Daemons(std::vector<std::string> names) : ifnames(std::move(names)) {}
    void add(pid_t pid) { pids.insert(pid); }
    ~Daemons() {
        for (const std::string& i : ifnames)
            if (auto pid = running_wireguard_go(i, kUapiSocketDir)) pids.insert(*pid);
        for (pid_t pid : pids)
            if (comm(pid) == "wireguard-go") (void)stop_wireguard_go(pid);
        for (const std::string& i : ifnames) {
            unlink(uapi_socket_path(kUapiSocketDir, i).c_str());
            if (link_exists(i)) run("ip link del " + i);
        }
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    }
};

struct Fixture {
    WorkDir dir;
    Daemons daemons;
    std::vector<std::string> logged;

    explicit Fixture(std::vector<std::string> names) : daemons(std::move(names)) {}
    WireguardGoOptions launch() const {
        return {.start_timeout_ms = 5000, .log_path = dir.path + "/wireguard-go.log", .own_scope = false};
    }
    std::string record() const { return daemon_record_path(dir.path); }
    std::unique_ptr<Supervisor> open() {
        auto s = Supervisor::open({.launch = launch(), .record_path = record(),
                                   .log = [this](const std::string& l) { logged.push_back(l); },
                                   .reap_children = true});
        REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().str()));
        return std::move(*s);
    }
    // Supervisor::start, its daemon known to the guard whatever happens next.
    pid_t start(Supervisor& s, const std::string& i) {
        auto pid = s.start(i);
        REQUIRE_MESSAGE(pid.ok(), (pid.ok() ? "" : pid.error().str()));
        daemons.add(*pid);
        CHECK(comm(*pid) == "wireguard-go");
        CHECK(link_exists(i));
        return *pid;
    }
    void kill9(pid_t pid) {
        REQUIRE(kill(pid, SIGKILL) == 0);
        REQUIRE(exits_within(pid, 5000));
    }
};

std::string probe_line(const std::string& file, pid_t pid) {
    std::ifstream in(file);
    for (std::string l; std::getline(in, l);)
        if (l.starts_with("pid " + std::to_string(pid) + " ")) return l;
    return "";
}

}  // namespace

TEST_CASE("wireguard-go starts with default signals and only stdio, whatever its starter holds") {
    skip_unless_runnable();
    WorkDir dir;
    Daemons daemons({ifname(0)});
    // exec_probe records what the kernel hands the program at exec, then
    // execs the real wireguard-go in place (same pid): Go's runtime rewrites
    // its own mask and dispositions, so /proc of the running daemon cannot
    // show what it was started with.
    std::string probes = dir.path + "/probes";
    setenv("AVPN_EXEC_PROBE_OUT", probes.c_str(), 1);
    std::string real = run("command -v wireguard-go").output;
    real = real.substr(0, real.find('\n'));
    setenv("AVPN_EXEC_PROBE_REAL", real.c_str(), 1);
    WireguardGoOptions launch{.program = EXEC_PROBE, .log_path = dir.path + "/wireguard-go.log", .own_scope = false};
    sigset_t blocked, old;
    sigemptyset(&blocked);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&blocked, s);
    REQUIRE(sigprocmask(SIG_BLOCK, &blocked, &old) == 0);
    auto old_pipe = signal(SIGPIPE, SIG_IGN);
    std::string leaked_path = dir.path + "/leaked";
    int leaked = open(leaked_path.c_str(), O_CREAT | O_WRONLY, 0600);  // no O_CLOEXEC
    auto pid = start_wireguard_go(ifname(0), launch);
    close(leaked);
    signal(SIGPIPE, old_pipe);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    unsetenv("AVPN_EXEC_PROBE_OUT");
    unsetenv("AVPN_EXEC_PROBE_REAL");
    REQUIRE(leaked >= 0);
    REQUIRE_MESSAGE(pid.ok(), (pid.ok() ? "" : pid.error().str()));
    daemons.add(*pid);
    CHECK(comm(*pid) == "wireguard-go");  // the real daemon, exec'd by the probe
    std::string at_exec = probe_line(probes, *pid);
    INFO("at exec: ", at_exec);
    REQUIRE_FALSE(at_exec.empty());
    CHECK(at_exec.find(" SigBlk 0000000000000000 ") != std::string::npos);
    CHECK(at_exec.find(" SigIgn 0000000000000000 ") != std::string::npos);
    std::vector<int> fds_at_exec;
    std::string rest = at_exec.substr(at_exec.find(" fds") + 4);
    for (size_t pos = 0; (pos = rest.find(' ', pos)) != std::string::npos; ++pos)
        fds_at_exec.push_back(std::atoi(rest.c_str() + pos + 1));
    std::sort(fds_at_exec.begin(), fds_at_exec.end());
    CHECK(fds_at_exec == std::vector<int>{0, 1, 2});
    // The running daemon: the leaked file is not among its descriptors.
    // Go's runtime opens and closes descriptors of its own while we list
    // them: one that is gone by the time we read its link is skipped.
    std::vector<std::string> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(*pid) + "/fd")) {
        std::error_code gone;
        auto target = std::filesystem::read_symlink(e.path(), gone);
        if (!gone) fds.push_back(target.string());
    }
    CHECK(std::find(fds.begin(), fds.end(), leaked_path) == fds.end());
    CHECK(std::find(fds.begin(), fds.end(), "/dev/net/tun") != fds.end());
    CHECK(getsid(*pid) != getsid(0));
    auto found = running_wireguard_go(ifname(0), kUapiSocketDir);
    REQUIRE_MESSAGE(found.ok(), (found.ok() ? "" : found.error().str()));
    CHECK(*found == *pid);
}

TEST_CASE("a wireguard-go that dies while starting is reaped by a subreaper caller, and the error says how") {
    skip_unless_runnable();
    WorkDir dir;
    Daemons daemons({ifname(1)});
    // A link of that name that is no TUN device (a veth: this kernel may
    // have no dummy links): wireguard-go cannot create its TUN and exits 1
    // (ExitSetupFailed) before its UAPI socket.
    sh("ip link add " + ifname(1) + " type veth peer name " + ifname(8));
    REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // as avpnd is (supervisor.hpp)
    auto pid = start_wireguard_go(ifname(1), {.log_path = dir.path + "/wireguard-go.log", .own_scope = false});
    REQUIRE_FALSE(pid.ok());
    INFO(pid.error().str());
    CHECK(pid.error().why.find("exited before creating its UAPI socket, status 1") != std::string::npos);
    CHECK(pid.error().why.find(dir.path + "/wireguard-go.log") != std::string::npos);
    CHECK(waitpid(-1, nullptr, WNOHANG) < 0);  // reaped: no child, no zombie left
}

TEST_CASE("a started wireguard-go that is killed is reaped, restarted, logged and counted") {
    skip_unless_runnable();
    Fixture f({ifname(2)});
    const std::string i = ifname(2);
    auto s = f.open();
    pid_t first = f.start(*s, i);
    CHECK(s->daemons().at(i) == DaemonRecord{first, 0, "", 0});
    CHECK_FALSE(s->reap());
    CHECK_FALSE(readable_within(s->fd(), 0));
    REQUIRE(kill(first, SIGKILL) == 0);
    REQUIRE(readable_within(s->fd(), 5000));
    CHECK(s->reap());
    CHECK_FALSE(readable_within(s->fd(), 0));
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(first)));  // no zombie
    CHECK(s->daemons().at(i).pid == 0);
    CHECK(load_daemon_records(f.record()).at(i).pid == 0);
    // Its socket is still there, stale: the new daemon replaces it.
    pid_t second = f.start(*s, i);
    CHECK(second != first);
    const DaemonRecord& r = s->daemons().at(i);
    CHECK(r.pid == second);
    CHECK(r.restarts == 1);
    CHECK(r.last_exit == "signal SIGKILL");
    CHECK(r.last_exit_at > 0);
    REQUIRE(f.logged.size() == 1);
    CHECK(f.logged[0] == "wireguard-go for " + i + " (pid " + std::to_string(first) +
                             ") exited (signal SIGKILL): restarted as pid " + std::to_string(second));
    CHECK(load_daemon_records(f.record()) == s->daemons());
    auto found = running_wireguard_go(i, kUapiSocketDir);
    REQUIRE(found.ok());
    CHECK(*found == second);
}

TEST_CASE("a wireguard-go found on its socket is adopted, not restarted; its exit status is unknown") {
    skip_unless_runnable();
    Fixture f({ifname(3), ifname(4)});
    const std::string i = ifname(3);
    auto pid = start_wireguard_go(i, f.launch());  // by "an earlier avpn"
    REQUIRE_MESSAGE(pid.ok(), (pid.ok() ? "" : pid.error().str()));
    f.daemons.add(*pid);
    auto s = f.open();
    s->adopt(i);
    s->adopt(i);          // once is enough
    s->adopt(ifname(4));  // nothing answers there
    REQUIRE(f.logged.size() == 1);
    CHECK(f.logged[0].starts_with("adopted wireguard-go for " + i + " (pid " + std::to_string(*pid) + ")"));
    CHECK(s->daemons().size() == 1);
    CHECK(s->daemons().at(i).pid == *pid);  // SO_PEERCRED of the daemon's UAPI socket
    CHECK(load_daemon_records(f.record()) == s->daemons());
    CHECK(alive(*pid));  // adopting starts nothing and stops nothing
    CHECK_FALSE(s->reap());
    REQUIRE(kill(*pid, SIGKILL) == 0);
    REQUIRE(readable_within(s->fd(), 5000));
    pid_t next = f.start(*s, i);  // reaps on the way, as when the converge comes first
    CHECK(f.logged.back() == "wireguard-go for " + i + " (pid " + std::to_string(*pid) +
                                 ") exited (status unknown, not avpnd's child): restarted as pid " + std::to_string(next));
    CHECK(s->daemons().at(i).restarts == 1);
    CHECK(s->daemons().at(i).last_exit == "status unknown, not avpnd's child");
}

TEST_CASE("a released interface's wireguard-go exits with its link: reaped, but no crash and no record") {
    skip_unless_runnable();
    Fixture f({ifname(5)});
    const std::string i = ifname(5);
    auto s = f.open();
    pid_t pid = f.start(*s, i);
    s->release(i);
    CHECK(s->daemons().empty());
    CHECK(load_daemon_records(f.record()).empty());
    // avpn deletes the link; wireguard-go leaves by itself. Still avpnd's
    // child: reaped, so no zombie stays, but not restarted.
    sh("ip link del " + i);
    REQUIRE(readable_within(s->fd(), 5000));
    CHECK_FALSE(s->reap());
    CHECK_FALSE(readable_within(s->fd(), 0));
    CHECK_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid)));
    CHECK(f.logged.empty());
    CHECK(s->daemons().empty());
    CHECK(load_daemon_records(f.record()).empty());
    pid_t again = f.start(*s, i);
    CHECK(s->daemons().at(i) == DaemonRecord{again, 0, "", 0});
    CHECK(f.logged.empty());
}

TEST_CASE("a new Supervisor keeps the count of a wireguard-go that still runs and notes one that died unseen") {
    skip_unless_runnable();
    Fixture f({ifname(6), ifname(7)});
    const std::string a = ifname(6), b = ifname(7);
    pid_t kept = 0, lost = 0;
    {
        auto s = f.open();
        pid_t first = f.start(*s, a);
        lost = f.start(*s, b);
        f.kill9(first);
        REQUIRE(readable_within(s->fd(), 5000));
        CHECK(s->reap());
        kept = f.start(*s, a);
    }  // "avpnd" is gone; its daemons run on
    CHECK(alive(kept));
    CHECK(alive(lost));
    f.kill9(lost);
    f.logged.clear();
    auto s = f.open();
    s->adopt(a);
    s->adopt(b);  // nothing answers: its socket is stale
    REQUIRE(f.logged.size() == 1);
    CHECK(s->daemons().size() == 1);
    CHECK(s->daemons().at(a) == DaemonRecord{kept, 1, "signal SIGKILL", s->daemons().at(a).last_exit_at});
    CHECK(s->daemons().at(a).last_exit_at > 0);
    pid_t fresh = f.start(*s, b);
    CHECK(f.logged.back() == "wireguard-go for " + b + " (pid " + std::to_string(lost) +
                                 ") exited (status unknown, while no avpnd watched it): restarted as pid " +
                                 std::to_string(fresh));
    CHECK(s->daemons().at(b).restarts == 1);
    CHECK(load_daemon_records(f.record()) == s->daemons());
}
