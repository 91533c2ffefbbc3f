// One request/response exchange on a UAPI unix stream socket: non-blocking
// I/O with poll() so no call waits longer than the timeout without progress,
// and bounded reads (line length, total bytes).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::wg {

struct UapiLimits {
    int timeout_ms = 5000;
    size_t max_response_bytes = 64u << 20;
    size_t max_line_bytes = 4096;
};

class UapiConnection {
public:
    static Result<UapiConnection> open(const std::string& path, const std::string& ifname,
                                       const UapiLimits& limits);
    UapiConnection(UapiConnection&& other) noexcept;
    UapiConnection& operator=(UapiConnection&&) = delete;
    UapiConnection(const UapiConnection&) = delete;
    ~UapiConnection();

    // Sends all of data, unless the daemon has already answered (it does so
    // early on an error and then stops reading): the rest is then dropped and
    // answered_early() turns true, so the caller reads the errno instead.
    Status send(std::string_view data);
    bool answered_early() const { return answered_early_; }

    // The next line without its '\n'; an error on EOF, timeout or limits.
    // The view stays valid until the next call.
    Result<std::string_view> read_line();

    // The process that listens on the socket (SO_PEERCRED: the credentials
    // it had at listen()), so a running daemon can be found by its socket.
    Result<pid_t> peer_pid() const;

private:
    UapiConnection(int fd, std::string ifname, UapiLimits limits);
    Status wait(short events, short& revents, std::string_view doing);
    Status fill();
    Error fail(std::string_view what, std::string why, int code = 0) const;

    int fd_ = -1;
    std::string ifname_;
    UapiLimits limits_;
    bool answered_early_ = false;
    std::string buf_;  // received, not yet consumed from start_
    size_t start_ = 0;
    size_t total_ = 0;  // bytes received so far
};

}  // namespace avpn::wg
