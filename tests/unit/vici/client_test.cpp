// The vici client against a scripted server: commands, streamed commands,
// events in the middle of commands, timeouts, garbage, and reconnects with
// re-registration after the server drops the connection.
#include <doctest/doctest.h>

#include <chrono>
#include <cerrno>
#include <fstream>
#include <thread>

#include "fake_charon.hpp"
#include "plugins/vici/client.hpp"

using namespace avpn::vici;
using avpn::Status;
using namespace std::chrono_literals;

namespace {

Client client_for(const test::FakeCharon& server, std::chrono::milliseconds timeout = 2000ms) {
    ClientOptions o;
    o.socket_path = server.path();
    o.timeout = timeout;
    return Client(o);
}

}  // namespace

TEST_CASE("a command gets its response; arguments travel intact") {
    test::FakeCharon server;
    Client c = client_for(server);
    auto v = c.call("version");
    REQUIRE_MESSAGE(v.ok(), v.error().str());
    CHECK(v->value_or("daemon") == "charon");
    Section args;
    args.add_value("k", "v");
    args.add_section("s").add_list("l", {"a", "b"});
    auto echo = c.call("echo", args);
    REQUIRE(echo.ok());
    CHECK(*echo == args);
    CHECK(server.connections() == 1);
}

TEST_CASE("an unknown command is an error naming it; success=no carries errmsg") {
    test::FakeCharon server;
    Client c = client_for(server);
    auto r = c.call("no-such-command");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().where == "no-such-command");
    auto f = c.call("fail");
    REQUIRE(f.ok());
    Status st = check_success("fail", *f);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why == "no such thing");
    CHECK(c.call("version").ok());  // the connection is still usable
}

TEST_CASE("a streamed command delivers its events in order before the response, then unregisters") {
    test::FakeCharon server;
    Client c = client_for(server);
    std::vector<std::string> names;
    auto r = c.call_streamed("list-sas", {}, "list-sa", [&](const Section& ike) {
        REQUIRE(!ike.entries().empty());
        names.push_back(ike.entries()[0].name);
    });
    REQUIRE_MESSAGE(r.ok(), r.error().str());
    CHECK(names == std::vector<std::string>{"avpn-0", "avpn-1", "avpn-2"});
    CHECK(server.count(PacketType::EventRegister, "list-sa") == 1);
    CHECK(server.count(PacketType::EventUnregister, "list-sa") == 1);
}

TEST_CASE("subscribed events raised during a command are queued, not lost") {
    test::FakeCharon server;
    Client c = client_for(server);
    REQUIRE(c.subscribe("ike-updown").ok());
    REQUIRE(c.subscribe("child-updown").ok());
    auto r = c.call("with-event");
    REQUIRE(r.ok());
    std::vector<std::string> names;
    auto r2 = c.call_streamed("list-sas", {}, "list-sa", [&](const Section& s) { names.push_back(s.entries()[0].name); });
    REQUIRE(r2.ok());
    CHECK(names.size() == 3);  // the mid-stream ike-updown did not go to the stream
    auto events = c.take_events();
    REQUIRE(events.size() == 3);
    CHECK(events[0].name == "ike-updown");
    CHECK(events[1].name == "child-updown");
    CHECK(events[1].message.value_or("up") == "no");
    CHECK(events[2].name == "ike-updown");
    CHECK(c.take_events().empty());
}

TEST_CASE("registering for an unknown event is an error") {
    test::FakeCharon server;
    Client c = client_for(server);
    Status st = c.subscribe("bogus");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().why.find("no such event") != std::string::npos);
}

TEST_CASE("every call is bounded by the timeout; the next call reconnects") {
    test::FakeCharon server;
    Client c = client_for(server, 200ms);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.call("silent");
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r.ok());
    CHECK(is_timeout(r.error()));
    CHECK(r.error().code == ETIMEDOUT);
    CHECK(took >= 190ms);
    CHECK(took < 2s);
    CHECK_FALSE(c.connected());
    server.drop_connection();
    auto v = c.call("version");
    REQUIRE_MESSAGE(v.ok(), v.error().str());
    CHECK(server.connections() == 2);
}

// An apply's budget (runtime/ipsec.hpp): a charon that stops answering
// costs the budget, not the per-call timeout once per call.
TEST_CASE("an overall deadline ends a call before its own timeout; a nested Budget replaces it, then the outer is back") {
    test::FakeCharon server;
    Client c = client_for(server, 5000ms);
    {
        Budget apply(c, 150ms);
        const auto t0 = std::chrono::steady_clock::now();
        auto r = c.call("silent");
        const auto took = std::chrono::steady_clock::now() - t0;
        REQUIRE_FALSE(r.ok());
        CHECK(is_timeout(r.error()));
        CHECK(took >= 140ms);
        CHECK(took < 1s);
        const auto outer = c.overall_deadline();
        REQUIRE(outer);
        {
            Budget undo(c, 2000ms);  // spent outer budget: the undo has its own
            CHECK(*c.overall_deadline() > *outer);
            auto v = c.call("version");
            CHECK_MESSAGE(v.ok(), v.error().str());
        }
        CHECK(c.overall_deadline() == outer);
        const auto t1 = std::chrono::steady_clock::now();
        auto late = c.call("silent");  // the outer budget is spent: no waiting
        CHECK_FALSE(late.ok());
        CHECK(std::chrono::steady_clock::now() - t1 < 500ms);
    }
    CHECK_FALSE(c.overall_deadline());
    auto v = c.call("version");
    CHECK_MESSAGE(v.ok(), v.error().str());
}

// avpnctl down treats "nothing listening" as "charon holds nothing"; any
// other connect failure must stay a failure.
TEST_CASE("connect: no socket file is ENOENT, a socket nobody accepts on is ECONNREFUSED, both nothing listening") {
    char tmpl[] = "/tmp/avpn-vici-none-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string path = dir + "/charon.vici";
    ClientOptions o;
    o.socket_path = path;
    Client c(o);

    Status missing = c.connect();
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == ENOENT);
    CHECK(nothing_listening(missing.error()));

    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);  // bound, never listening: a dead charon's file
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    Status refused = c.connect();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ECONNREFUSED);
    CHECK(nothing_listening(refused.error()));
    ::close(fd);
    ::unlink(path.c_str());

    std::ofstream(dir + "/file") << "x";  // a path through a regular file: ENOTDIR, a real failure
    ClientOptions through_file;
    through_file.socket_path = dir + "/file/charon.vici";
    Status wrong = Client(through_file).connect();
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == ENOTDIR);
    CHECK_FALSE(nothing_listening(wrong.error()));
    ::unlink((dir + "/file").c_str());
    ::rmdir(dir.c_str());

    // The words alone decide nothing.
    CHECK_FALSE(nothing_listening(avpn::Error{"connecting to charon", path, "No such file or directory"}));
    CHECK_FALSE(is_timeout(avpn::Error{"waiting for charon", path, "timed out"}));
}

TEST_CASE("garbage and oversize frames from the server are errors, then the client recovers") {
    test::FakeCharon server;
    Client c = client_for(server, 500ms);
    auto g = c.call("garbage");
    REQUIRE_FALSE(g.ok());
    server.drop_connection();
    auto o = c.call("oversize");
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().why.find("512 KiB") != std::string::npos);
    server.drop_connection();
    CHECK(c.call("version").ok());
}

TEST_CASE("after the server drops the connection the next call reconnects and re-registers events") {
    test::FakeCharon server;
    Client c = client_for(server);
    REQUIRE(c.subscribe("ike-updown").ok());
    REQUIRE(c.call("version").ok());
    server.drop_connection();
    std::this_thread::sleep_for(100ms);  // the server closes its end
    auto v = c.call("version");
    REQUIRE_MESSAGE(v.ok(), v.error().str());
    CHECK(server.connections() == 2);
    CHECK(server.count(PacketType::EventRegister, "ike-updown") == 2);
    REQUIRE(c.call("raise").ok());  // the re-registered subscription delivers
    auto events = c.take_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].message.value_or("n") == "1");
}

TEST_CASE("a call when nobody listens fails with the socket path; a hangup mid-command is an error") {
    ClientOptions o;
    o.socket_path = "/nonexistent/charon.vici";
    o.timeout = 100ms;
    Client nobody(o);
    auto r = nobody.call("version");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().where.find("/nonexistent/charon.vici") != std::string::npos);

    test::FakeCharon server;
    Client c = client_for(server);
    auto h = c.call("hangup");
    REQUIRE_FALSE(h.ok());
    CHECK(h.error().why == "connection closed");
    CHECK(c.call("version").ok());
}

TEST_CASE("wait_events returns queued events or times out quietly; the queue is bounded") {
    test::FakeCharon server;
    ClientOptions o;
    o.socket_path = server.path();
    o.max_queued_events = 2;
    Client c(o);
    REQUIRE(c.subscribe("ike-updown").ok());
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.wait_events(150ms).ok());
    CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);
    CHECK(c.take_events().empty());
    CHECK(c.connected());
    for (int i = 0; i < 3; ++i) REQUIRE(c.call("raise").ok());
    CHECK(c.take_events().size() == 2);
    CHECK(c.dropped_events() == 1);
}

TEST_CASE("an event sink receives events as they arrive, also in the middle of a command") {
    test::FakeCharon server;
    ClientOptions o;
    o.socket_path = server.path();
    o.max_queued_events = 1;  // the sink is not bounded by the queue
    Client c(o);
    std::vector<std::string> seen;
    c.set_event_sink([&](const Event& e) { seen.push_back(e.name + ":" + e.message.value_or("up")); });
    REQUIRE(c.subscribe("ike-updown").ok());
    REQUIRE(c.subscribe("child-updown").ok());
    REQUIRE(c.call("with-event").ok());
    REQUIRE(c.call("with-event").ok());
    CHECK(seen == std::vector<std::string>{"ike-updown:yes", "child-updown:no", "ike-updown:yes", "child-updown:no"});
    CHECK(c.take_events().empty());
    CHECK(c.dropped_events() == 0);
}
