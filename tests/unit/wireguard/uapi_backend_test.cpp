// UapiBackend over a real unix socket against a scripted daemon: framing,
// errno handling, early answers, timeouts and read limits.
#include <doctest/doctest.h>

#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/uapi_codec.hpp"
#include "wg_test_util.hpp"

using namespace avpn;
using namespace avpn::wg;
using namespace avpn::wg::test;

namespace {

UapiBackend backend_in(const TempDir& dir, int timeout_ms = 2000, size_t max_response = 1 << 20) {
    return UapiBackend(UapiOptions{.socket_dir = dir.path(), .timeout_ms = timeout_ms,
                                   .max_response_bytes = max_response, .max_line_bytes = 256});
}

WgDeviceChange change_with_peers(int n) {
    WgDeviceChange ch;
    ch.ifname = "avwgt0";
    for (int i = 0; i < n; ++i)
        ch.peers.push_back({.public_key = random_public_key(), .replace_allowed_ips = true,
                            .allowed_ips = {Prefix::make(IpAddr::v4(0x0a000000u + (i << 8)), 24)}});
    return ch;
}

}  // namespace

TEST_CASE("set sends the encoded request and succeeds on errno=0") {
    TempDir dir;
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return "errno=0\n\n"; });
    WgDeviceChange ch = change_with_peers(2000);  // several chunks
    auto b = backend_in(dir);
    Status st = b.set(ch);
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    std::string expected;
    REQUIRE(uapi::encode_set(ch, std::nullopt, [&](std::string_view s) { expected.append(s); return Status{}; }).ok());
    CHECK(daemon.last_request() == expected);
}

TEST_CASE("set of an empty change does not connect") {
    TempDir dir;
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return "errno=0\n\n"; });
    WgDeviceChange ch;
    ch.ifname = "avwgt0";
    auto b = backend_in(dir);
    CHECK(b.set(ch).ok());
    CHECK(daemon.connections() == 0);
}

TEST_CASE("set reports the daemon's errno as an error") {
    TempDir dir;
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return "errno=-98\n\n"; });
    auto b = backend_in(dir);
    Status st = b.set(change_with_peers(1));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().where == "avwgt0");
    CHECK(st.error().why == "Address already in use (errno -98)");
}

TEST_CASE("a daemon that answers and closes before the request ends still yields its errno") {
    TempDir dir;
    // Reads only the first 100 bytes, like wireguard-go stopping at a bad line.
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return "errno=-22\n\n"; }, 100);
    auto b = backend_in(dir);
    Status st = b.set(change_with_peers(5000));  // far more than the socket buffers hold
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why == "Invalid argument (errno -22)");
}

TEST_CASE("status parses the get response; get returns the device") {
    TempDir dir;
    KeyPair dev = make_key_pair();
    std::string peer_key = random_public_key();
    std::string response = "private_key=" + uapi::key_to_hex(dev.priv) + "\nlisten_port=51820\npublic_key=" +
                           *uapi::base64_key_to_hex(peer_key) + "\nendpoint=[2001:db8::5]:4500\nrx_bytes=42\n"
                           "allowed_ip=10.5.0.0/16\nerrno=0\n\n";
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [&](const std::string&) { return response; });
    auto b = backend_in(dir);
    auto st = b.status("avwgt0");
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().str()));
    CHECK(daemon.last_request() == "get=1\n\n");
    CHECK(st->device.public_key == dev.public_b64);
    REQUIRE(st->peers.size() == 1);
    CHECK(st->peers[0].rx_bytes == 42);
    auto d = b.get("avwgt0");
    REQUIRE(d.ok());
    CHECK(d->listen_port == 51820);
    REQUIRE(d->peers.size() == 1);
    CHECK(d->peers[0] == peer(peer_key, {"10.5.0.0/16"}, "[2001:db8::5]:4500"));
    CHECK(d->public_key == dev.public_b64);
}

TEST_CASE("a response cut short is an error, not a partial device") {
    TempDir dir;
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return "listen_port=1\n"; });
    auto st = backend_in(dir).status("avwgt0");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why.find("closed the connection") != std::string::npos);
}

TEST_CASE("a silent daemon times out") {
    TempDir dir;
    FakeUapiDaemon daemon(dir.path(), "avwgt0", [](const std::string&) { return std::string(); });
    auto st = backend_in(dir, 150).status("avwgt0");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why == "no progress for 150 ms");
}

TEST_CASE("reads are bounded: line length and total size") {
    TempDir dir;
    SUBCASE("line") {
        FakeUapiDaemon daemon(dir.path(), "avwgt0",
                              [](const std::string&) { return "x=" + std::string(1000, 'a') + "\nerrno=0\n\n"; });
        auto st = backend_in(dir).status("avwgt0");
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().why.find("line longer than 256") != std::string::npos);
    }
    SUBCASE("total") {
        std::string many;
        for (int i = 0; i < 100; ++i) many += "unknown_field=" + std::to_string(i) + "\n";
        FakeUapiDaemon daemon(dir.path(), "avwgt0", [&](const std::string&) { return many + "errno=0\n\n"; });
        auto st = backend_in(dir, 2000, 512).status("avwgt0");
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().why.find("longer than 512 bytes") != std::string::npos);
    }
}

TEST_CASE("no socket: the error names the path") {
    TempDir dir;
    auto st = backend_in(dir).get("avwgt0");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().where == dir.path() + "/avwgt0.sock");
    CHECK(st.error().why == "No such file or directory");
}

TEST_CASE("list_uapi_interfaces lists sockets only") {
    TempDir dir;
    FakeUapiDaemon a(dir.path(), "avwgb", [](const std::string&) { return "errno=0\n\n"; });
    FakeUapiDaemon b(dir.path(), "avwga", [](const std::string&) { return "errno=0\n\n"; });
    FILE* f = fopen(dir.file("plain.sock").c_str(), "w");
    REQUIRE(f);
    fclose(f);
    auto names = list_uapi_interfaces(dir.path());
    REQUIRE(names.ok());
    CHECK(*names == std::vector<std::string>{"avwga", "avwgb"});
    auto none = list_uapi_interfaces(dir.file("missing"));
    REQUIRE(none.ok());
    CHECK(none->empty());
}
