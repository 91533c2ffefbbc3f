// Frames on avpnd's control socket: a 4-byte big-endian length, then that
// many bytes (one protocol.hpp message). A stream socket with a length prefix
// rather than SOCK_SEQPACKET: a reply can be far larger than one datagram may
// be (a unix socket's send buffer, about 208 KiB by default), and a prefix
// lets the reader refuse an oversized message before reading it.
//
// Both calls are bounded in time as a whole (not per read), so a peer that
// trickles bytes cannot hold the other end longer than the timeout. They
// work on blocking and non-blocking sockets alike and never raise SIGPIPE.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::control {

// Error.code: ETIMEDOUT when the time ran out; EMSGSIZE for a frame over
// max_bytes (nothing of it is read); a closed peer before a whole frame is
// "closed" with the read's code, if any.
Result<std::string> read_frame(int fd, size_t max_bytes, int timeout_ms);
Status write_frame(int fd, std::string_view payload, int timeout_ms);

}  // namespace avpn::control
