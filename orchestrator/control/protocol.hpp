// avpnd's control protocol, version 1 (docs/cli.md, "Control socket"): what
// avpnctl asks and what avpnd answers, encoded and decoded in this one place
// that both link.
//
// A message is a frame (frame.hpp) holding one compact JSON object of flat
// members (flat_json.hpp). A request names the protocol version and the
// command with its few arguments; the reply carries the exit code and the
// bytes the command prints on stdout and stderr, rendered by avpnd with the
// same code the one-shot uses (orchestrator/report), so output through the
// daemon is identical to the one-shot's by construction and --json replies
// keep their documented schemas (avpn.apply/1, avpn.status/1).
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr const char* kDefaultSocket = "/run/avpn/avpnd.sock";

// A request is a path and a few numbers; a reply can carry the apply report
// of a 10,000-spoke hub (tens of MB of JSON).
inline constexpr size_t kMaxRequestBytes = 16 * 1024;
inline constexpr size_t kMaxReplyBytes = 256 * 1024 * 1024;
inline constexpr size_t kMaxPathBytes = 4095;
inline constexpr size_t kMaxNameBytes = 255;  // rekey's group and peer

// Bounds of the arguments (also checked by avpnctl before sending).
inline constexpr int kMaxSettleSeconds = 120;
inline constexpr int kMinConfirmSeconds = 10;
inline constexpr int kMaxConfirmSeconds = 3600;
inline constexpr int kMaxListenSeconds = 10;  // status --listen holds avpnd's loop

enum class Command { apply, down, status, reload, confirm, rekey };
std::string_view to_string(Command c);

struct Request {
    Command command = Command::status;
    bool json = false;        // apply, down, status, reload: --json output
    std::string config;       // apply: absolute path of the site file
    int settle = 10;          // apply: seconds
    int confirm_seconds = 0;  // apply: 0 none, else kMinConfirmSeconds..kMaxConfirmSeconds
    int listen = 0;           // status: 0..kMaxListenSeconds
    std::string group, peer;  // rekey: "" every group / every peer of the group; a peer needs a group
};

struct Reply {
    int exit = 0;      // avpnctl's exit code (docs/cli.md)
    std::string out;   // for avpnctl's stdout
    std::string err;   // for avpnctl's stderr
};

std::string encode(const Request& r);
std::string encode(const Reply& r);

// Every malformed, unknown, out-of-range or misplaced member is an error
// naming it; avpnd answers such a request with exit 2 and the error.
Result<Request> decode_request(std::string_view json);
Result<Reply> decode_reply(std::string_view json);

}  // namespace avpn::control
