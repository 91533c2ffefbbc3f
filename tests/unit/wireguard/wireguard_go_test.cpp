// Starting wireguard-go without root: fake_wireguard_go stands in for the
// daemon (it listens on the UAPI socket and changes no signal state, so
// /proc/<pid>/status shows what it was started with). The real daemon under
// avpnd is in tests/netns/wireguard_go.sh.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/wireguard/wireguard_go.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

std::string status_line(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string l; std::getline(in, l);)
        if (l.starts_with(key + ":")) return l.substr(l.find_first_not_of(" \t", key.size() + 1));
    return "";
}

}  // namespace

TEST_CASE("the daemon's command line, with and without a systemd scope") {
    WireguardGoOptions o;
    CHECK(wireguard_go_argv("avpn0", "/usr/bin/wireguard-go", o, false) ==
          std::vector<std::string>{"wireguard-go", "-f", "avpn0"});
    CHECK(wireguard_go_argv("avpn0", "/usr/bin/wireguard-go", o, true) ==
          std::vector<std::string>{"systemd-run", "--scope", "--collect", "--description=avpn: wireguard-go for avpn0",
                                   "--", "/usr/bin/wireguard-go", "-f", "avpn0"});
}

TEST_CASE("exit statuses in words") {
    CHECK(exit_text(1 << 8) == "status 1");
    CHECK(exit_text(SIGKILL) == "signal SIGKILL");
    CHECK(exit_text(SIGSEGV | 0x80) == "signal SIGSEGV, core dumped");
}

TEST_CASE("a daemon starts with default signals and only stdio, whatever its starter holds") {
    TempDir dir;
    setenv("AVPN_FAKE_UAPI_DIR", dir.path().c_str(), 1);
    WireguardGoOptions launch{.program = FAKE_WIREGUARD_GO, .socket_dir = dir.path(), .own_scope = false};
    sigset_t blocked, old;
    sigemptyset(&blocked);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&blocked, s);
    REQUIRE(sigprocmask(SIG_BLOCK, &blocked, &old) == 0);
    auto old_pipe = signal(SIGPIPE, SIG_IGN);
    int leaked = open(dir.file("leaked").c_str(), O_CREAT | O_WRONLY, 0600);  // no O_CLOEXEC
    auto pid = start_wireguard_go("avwgs0", launch);
    close(leaked);
    signal(SIGPIPE, old_pipe);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    REQUIRE_MESSAGE(pid.ok(), (pid.ok() ? "" : pid.error().str()));
    CHECK(status_line(*pid, "SigBlk") == "0000000000000000");
    CHECK(status_line(*pid, "SigIgn") == "0000000000000000");
    std::vector<std::string> fds;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(*pid) + "/fd"))
        fds.push_back(std::filesystem::read_symlink(e.path()).string());
    CHECK(std::find(fds.begin(), fds.end(), dir.file("leaked")) == fds.end());
    CHECK(fds.size() == 4);  // stdio and its listening socket
    CHECK(getsid(*pid) != getsid(0));
    CHECK(running_wireguard_go("avwgs0", dir.path()).value() == *pid);
    kill(*pid, SIGKILL);
}

TEST_CASE("a daemon that dies while starting is reaped by a subreaper caller, and the error says how") {
    TempDir dir;
    std::string script = dir.file("dies");
    std::ofstream(script) << "#!/bin/sh\nexit 3\n";
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);  // as avpnd is (supervisor.hpp)
    auto pid = start_wireguard_go("avwgs0", {.program = script, .socket_dir = dir.path(), .own_scope = false});
    REQUIRE_FALSE(pid.ok());
    CHECK(pid.error().why.find("exited before creating its UAPI socket, status 3") != std::string::npos);
}
