// A non-blocking unix stream socket with deadlines: the vici client's only
// contact with the operating system, so every wait is bounded by poll().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/result.hpp"

namespace avpn::vici {

using Clock = std::chrono::steady_clock;

class UnixStream {
public:
    UnixStream() = default;
    ~UnixStream() { close(); }
    UnixStream(const UnixStream&) = delete;
    UnixStream& operator=(const UnixStream&) = delete;

    Status connect(const std::string& path);
    void close();
    bool is_open() const { return fd_ >= 0; }

    // Sends every byte before `deadline` (SIGPIPE suppressed).
    Status send_all(std::span<const uint8_t> bytes, Clock::time_point deadline);

    // Waits until readable or `deadline`, then reads what is there.
    // Returns the byte count; 0 means the peer closed the stream.
    // A timeout is an error whose code is ETIMEDOUT (is_timeout).
    Result<size_t> recv_some(std::span<uint8_t> buf, Clock::time_point deadline);

    // Reads without waiting: bytes already there (0 and `closed` set when the
    // peer has gone). Used to notice a restarted charon before a command.
    Result<size_t> recv_now(std::span<uint8_t> buf, bool& closed);

private:
    int fd_ = -1;
    std::string path_;
};

bool is_timeout(const Error& e);

// connect() found nothing listening at the path: no socket file (ENOENT), or
// one nobody accepts on (ECONNREFUSED: a charon that exited without removing
// it). A charon that is not running holds no connections.
bool nothing_listening(const Error& connect_failure);

}  // namespace avpn::vici
