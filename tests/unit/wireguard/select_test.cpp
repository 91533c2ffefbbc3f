// Backend selection: a UAPI socket wins under "auto"; forcing userspace
// without a socket starts the daemon (its failure modes tested here; the
// success path runs against real wireguard-go in the netns tier).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>

#include "plugins/wireguard/select.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

// A backend that only says who it is.
class NamedBackend final : public WgBackend {
public:
    std::string_view name() const override { return "kernel"; }
    Result<nl::WgDevice> get(const std::string&) override { return Error{"get", "", "unused"}; }
    Result<WgDeviceStatus> status(const std::string&) override { return Error{"status", "", "unused"}; }
    Status set(const WgDeviceChange&) override { return Error{"set", "", "unused"}; }
};

SelectOptions options_in(const TempDir& dir) {
    SelectOptions o;
    o.uapi.socket_dir = dir.path();
    o.wireguard_go.socket_dir = dir.path();
    o.wireguard_go.start_timeout_ms = 300;
    return o;
}

std::string write_script(const TempDir& dir, const std::string& body) {
    std::string path = dir.file("fake-wireguard-go");
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0700);
    return path;
}

}  // namespace

TEST_CASE("preference names round-trip") {
    for (auto p : {BackendPreference::automatic, BackendPreference::kernel, BackendPreference::userspace})
        CHECK(parse_backend_preference(to_string(p)) == p);
    CHECK_FALSE(parse_backend_preference("wireguard-go"));
}

TEST_CASE("auto picks userspace exactly when a UAPI socket exists") {
    TempDir dir;
    CHECK(choose_backend("avwgs0", BackendPreference::automatic, dir.path()) == BackendKind::kernel);
    std::ofstream(dir.file("avwgs0.sock")) << "not a socket";
    CHECK(choose_backend("avwgs0", BackendPreference::automatic, dir.path()) == BackendKind::kernel);
    FakeUapiDaemon daemon(dir.path(), "avwgs1", [](const std::string&) { return "errno=0\n\n"; });
    CHECK(choose_backend("avwgs1", BackendPreference::automatic, dir.path()) == BackendKind::userspace);
    CHECK(choose_backend("avwgs1", BackendPreference::kernel, dir.path()) == BackendKind::kernel);
    CHECK(choose_backend("avwgs0", BackendPreference::userspace, dir.path()) == BackendKind::userspace);
}

TEST_CASE("select_backend builds the chosen backend") {
    TempDir dir;
    SelectOptions o = options_in(dir);
    SUBCASE("kernel without a factory is an error") {
        o.make_kernel = nullptr;
        auto sel = select_backend("avwgs0", BackendPreference::automatic, o);
        REQUIRE_FALSE(sel.ok());
        CHECK(sel.error().why.find("not available") != std::string::npos);
    }
    SUBCASE("kernel through the factory") {
        o.make_kernel = []() -> Result<std::unique_ptr<WgBackend>> {
            return std::unique_ptr<WgBackend>(std::make_unique<NamedBackend>());
        };
        auto sel = select_backend("avwgs0", BackendPreference::automatic, o);
        REQUIRE(sel.ok());
        CHECK(sel->backend->name() == "kernel");
        CHECK_FALSE(sel->started_daemon);
    }
    SUBCASE("userspace with a socket present starts nothing") {
        o.wireguard_go.program = "/nonexistent/wireguard-go";
        FakeUapiDaemon daemon(dir.path(), "avwgs0", [](const std::string&) { return "errno=0\n\n"; });
        auto sel = select_backend("avwgs0", BackendPreference::userspace, o);
        REQUIRE(sel.ok());
        CHECK(sel->backend->name() == "userspace");
        CHECK_FALSE(sel->started_daemon);
    }
}

TEST_CASE("starting the daemon: every way it can fail is reported") {
    TempDir dir;
    SelectOptions o = options_in(dir);
    SUBCASE("program missing") {
        o.wireguard_go.program = "avpn-no-such-wireguard-go";
        auto sel = select_backend("avwgs0", BackendPreference::userspace, o);
        REQUIRE_FALSE(sel.ok());
        CHECK(sel.error().why.find("not found in PATH") != std::string::npos);
    }
    SUBCASE("exec fails") {
        o.wireguard_go.program = dir.path();  // a directory: EACCES
        auto sel = select_backend("avwgs0", BackendPreference::userspace, o);
        REQUIRE_FALSE(sel.ok());
        CHECK(sel.error().why == dir.path() + ": Permission denied");
    }
    SUBCASE("the daemon exits early; its output is kept in the log") {
        o.wireguard_go.program = write_script(dir, "echo \"cannot create $2\" >&2; exit 1");
        o.wireguard_go.log_path = dir.file("wg.log");
        auto sel = select_backend("avwgs0", BackendPreference::userspace, o);
        REQUIRE_FALSE(sel.ok());
        CHECK(sel.error().why.find("exited before creating its UAPI socket") != std::string::npos);
        CHECK(sel.error().why.find(o.wireguard_go.log_path) != std::string::npos);
        std::string logged;
        std::getline(std::ifstream(o.wireguard_go.log_path), logged);
        CHECK(logged == "cannot create avwgs0");
    }
    SUBCASE("the daemon never creates its socket: timeout, and it is stopped") {
        std::string pid_file = dir.file("pid");
        o.wireguard_go.program = write_script(dir, "echo $$ > " + pid_file + "; exec sleep 30");
        auto sel = select_backend("avwgs0", BackendPreference::userspace, o);
        REQUIRE_FALSE(sel.ok());
        CHECK(sel.error().why.find("no UAPI socket after 300 ms") != std::string::npos);
        int pid = 0;
        std::ifstream(pid_file) >> pid;
        REQUIRE(pid > 0);
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        bool gone = !std::getline(stat, line) || line.find(") Z") != std::string::npos;
        CHECK(gone);
    }
}

TEST_CASE("interface names become paths only when the kernel would take them") {
    CHECK(check_ifname("avpn-hub0").ok());
    CHECK(check_ifname("abcdefghijklmno").ok());
    for (const char* bad : {"", "abcdefghijklmnop", ".", "..", "../etc", "a/b", "a b", "wg:0", "a\tb"}) {
        INFO(bad);
        Status st = check_ifname(bad);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().what == "invalid interface name");
    }
    TempDir dir;
    CHECK_FALSE(UapiBackend(UapiOptions{.socket_dir = dir.path()}).get("../x").ok());
    CHECK_FALSE(start_wireguard_go("../x", {.program = "/bin/true", .socket_dir = dir.path()}).ok());
}

TEST_CASE("a socket nobody serves is removed before starting; a served one stops the start") {
    TempDir dir;
    WireguardGoOptions o{.program = "/bin/false", .socket_dir = dir.path(), .start_timeout_ms = 300};
    {
        FakeUapiDaemon live(dir.path(), "avwgs0", [](const std::string&) { return "errno=0\n\n"; });
        auto busy = start_wireguard_go("avwgs0", o);
        REQUIRE_FALSE(busy.ok());
        CHECK(busy.error().why.find("a daemon already serves") != std::string::npos);
    }
    // The fake daemon is gone; its socket file stays, like after kill -9.
    REQUIRE(uapi_socket_exists(dir.path(), "avwgs0"));
    auto started = start_wireguard_go("avwgs0", o);
    REQUIRE_FALSE(started.ok());
    CHECK(started.error().why.find("exited before creating its UAPI socket") != std::string::npos);
    CHECK_FALSE(uapi_socket_exists(dir.path(), "avwgs0"));
}
