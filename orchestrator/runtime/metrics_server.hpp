// The HTTP side of avpnd's metrics ([site] metrics): a listening TCP socket
// served from avpnd's event loop, never blocking it. Everything is
// non-blocking; one connection is served at a time (the rest wait in the
// backlog, which is what a scraper every few seconds needs); a request may
// be at most kMaxRequest bytes and the whole exchange must end within
// kDeadline, else the connection is closed. The body is rendered when the
// request is complete, from memory (metrics.hpp), so a scrape costs the
// loop one render and a few non-blocking writes.
//
// GET /metrics answers 200 with the exposition; any other path 404, any
// other method 405, a request too long 431. HTTP/1.0 style: one request
// per connection, then close.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/ip.hpp"
#include "common/result.hpp"

namespace avpn::runtime {

class MetricsServer {
public:
    using Clock = std::chrono::steady_clock;
    using Render = std::function<std::string()>;
    static constexpr size_t kMaxRequest = 8192;
    static constexpr std::chrono::milliseconds kDeadline{2000};

    static Result<std::unique_ptr<MetricsServer>> open(const Endpoint& at, Render render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    const Endpoint& endpoint() const { return at_; }
    // What to poll: the listening socket while no connection is served,
    // else the connection (events: POLLIN while reading, POLLOUT while
    // writing).
    int fd() const { return conn_ >= 0 ? conn_ : listen_; }
    short events() const;
    // When the connection in hand must be closed (nullopt: none).
    std::optional<Clock::time_point> deadline() const;
    // fd() is ready (or the deadline passed): does what can be done now.
    void ready(Clock::time_point now);

private:
    MetricsServer(Endpoint at, int listen_fd, Render render) : at_(at), listen_(listen_fd), render_(std::move(render)) {}
    void accept(Clock::time_point now);
    void read();
    void write();
    void respond(const char* status, const std::string& body, const char* type);
    void close_conn();

    Endpoint at_;
    int listen_ = -1, conn_ = -1;
    Render render_;
    Clock::time_point conn_deadline_{};
    std::string request_, response_;
    size_t written_ = 0;
    bool writing_ = false;
};

}  // namespace avpn::runtime
