// vici packets and their transport framing: every packet travels as a 32-bit
// big-endian length followed by that many bytes; the first byte is the packet
// type, named types then carry an 8-bit-length name, and the rest is a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugins/vici/message.hpp"

namespace avpn::vici {

enum class PacketType : uint8_t {
    CmdRequest = 0,       // named, message
    CmdResponse = 1,      // message
    CmdUnknown = 2,       // nothing
    EventRegister = 3,    // named
    EventUnregister = 4,  // named
    EventConfirm = 5,     // nothing
    EventUnknown = 6,     // nothing
    Event = 7,            // named, message
};

// The documented maximum segment (charon refuses larger ones).
inline constexpr size_t kMaxSegment = 512 * 1024;
inline constexpr size_t kFrameHeader = 4;

const char* to_string(PacketType t);
bool is_named(PacketType t);
bool has_message(PacketType t);

struct Packet {
    PacketType type = PacketType::CmdRequest;
    std::string name;  // named types only
    Section message;   // types with a message only
    bool operator==(const Packet&) const = default;
};

// A whole frame: length header + packet. Fails when the name does not fit in
// 8 bits (or is missing on a named type) or the frame exceeds kMaxSegment.
Result<std::vector<uint8_t>> encode_packet(const Packet& p);

// Decodes one packet from a frame's payload (the bytes after the header).
// Unknown packet types, missing or truncated names and malformed messages
// are errors; an unnamed type carrying a name or trailing bytes where no
// message belongs are errors too.
Result<Packet> decode_packet(std::span<const uint8_t> payload);

// Splits a byte stream into frame payloads. Feed it what the socket returns;
// next() yields each complete payload. A length above kMaxSegment poisons the
// reader (the stream cannot be resynchronised): next() then returns the error.
class FrameReader {
public:
    void feed(std::span<const uint8_t> bytes);
    // A payload, nothing (need more bytes), or an error (oversize length).
    Result<std::optional<std::vector<uint8_t>>> next();
    size_t buffered() const { return buf_.size() - start_; }
    void reset();

private:
    std::vector<uint8_t> buf_;
    size_t start_ = 0;
    bool poisoned_ = false;
    size_t bad_length_ = 0;
};

}  // namespace avpn::vici
