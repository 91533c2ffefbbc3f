// The supervision record file. Supervising the real wireguard-go is in
// tests/netns/wg_supervisor_test.cpp; avpnd and SIGKILL of avpnd in
// tests/netns/wireguard_go.sh.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>

#include "plugins/wireguard/supervisor.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

TEST_CASE("the record round-trips and skips what it cannot read") {
    TempDir dir;
    std::map<std::string, DaemonRecord> records{{"avpn0", {42, 2, "signal SIGKILL", 1700000000}}, {"avpn1", {7, 0, "", 0}}};
    REQUIRE(save_daemon_records(daemon_record_path(dir.path()), records).ok());
    CHECK(load_daemon_records(daemon_record_path(dir.path())) == records);
    std::ofstream(daemon_record_path(dir.path()), std::ios::app) << "a/b\t1\t0\t0\t\nshort\t1\n";
    CHECK(load_daemon_records(daemon_record_path(dir.path())) == records);
    CHECK(load_daemon_records(dir.file("missing")).empty());
}
