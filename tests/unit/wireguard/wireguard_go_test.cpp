// wireguard-go's command line and exit statuses in words. Starting the real
// daemon is in tests/netns/wg_supervisor_test.cpp; under avpnd in
// tests/netns/wireguard_go.sh.
#include <doctest/doctest.h>

#include <signal.h>

#include <string>
#include <vector>

#include "plugins/wireguard/wireguard_go.hpp"

using namespace avpn;
using namespace avpn::wg;

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
