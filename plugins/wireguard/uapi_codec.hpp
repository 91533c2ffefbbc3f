// The cross-platform UAPI text protocol (wireguard.com/xplatform), without
// any I/O: encoding a set=1 request from a WgDeviceChange and parsing a
// get=1 response into a WgDeviceStatus. Lines are "key=value"; keys are hex on
// the wire and base64 in avpn's model; a request and a response end with an
// empty line; every response carries "errno=N" (0: success).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::wg::uapi {

std::string key_to_hex(const crypto::Key32& key);
Result<crypto::Key32> key_from_hex(std::string_view hex);  // exactly 64 hex digits
Result<std::string> hex_key_to_base64(std::string_view hex);
Result<std::string> base64_key_to_hex(std::string_view base64);

// Checks what the encoder cannot send (bad peer keys), so a request is either
// sent whole or not at all.
Status validate(const WgDeviceChange& change);

// Receives the request in pieces of about chunk_bytes; the encoder wipes
// each piece after the sink returns (the first may hold the private key).
using Sink = std::function<Status(std::string_view)>;
inline constexpr size_t kDefaultChunkBytes = 64 * 1024;

// Streams "set=1\n...\n\n". Linear in the size of the change. The device key
// is passed resolved (resolve_private_key()); change.private_key* are not read.
Status encode_set(const WgDeviceChange& change, const std::optional<SecretKey>& private_key,
                  const Sink& sink, size_t chunk_bytes = kDefaultChunkBytes);

// The status of an "errno=N" line: ok for 0, else an Error with strerror(|N|)
// (wireguard-go sends negative numbers, the protocol text positive ones).
Status parse_errno(std::string_view line, const std::string& ifname);

// Parses a get=1 response one line at a time (lines without '\n'). The
// device's private key, when sent, only yields its public key and is wiped.
class GetParser {
public:
    explicit GetParser(std::string ifname);
    Status feed(std::string_view line);
    bool done() const { return done_; }  // the errno line arrived
    // Sorted peers and allowed IPs; an error when the response was incomplete.
    Result<WgDeviceStatus> finish();

private:
    Status feed_device(std::string_view key, std::string_view value);
    Status feed_peer(std::string_view key, std::string_view value);
    Error bad(std::string_view key, std::string_view why) const;

    std::string ifname_;
    WgDeviceStatus status_;
    bool in_peer_ = false;
    bool done_ = false;
    size_t line_no_ = 0;
};

// The whole response at once (tests, fuzzing).
Result<WgDeviceStatus> parse_get(std::string_view text, const std::string& ifname);

}  // namespace avpn::wg::uapi
