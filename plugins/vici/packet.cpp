#include "plugins/vici/packet.hpp"

#include <string>

namespace avpn::vici {

const char* to_string(PacketType t) {
    switch (t) {
    case PacketType::CmdRequest: return "CMD_REQUEST";
    case PacketType::CmdResponse: return "CMD_RESPONSE";
    case PacketType::CmdUnknown: return "CMD_UNKNOWN";
    case PacketType::EventRegister: return "EVENT_REGISTER";
    case PacketType::EventUnregister: return "EVENT_UNREGISTER";
    case PacketType::EventConfirm: return "EVENT_CONFIRM";
    case PacketType::EventUnknown: return "EVENT_UNKNOWN";
    case PacketType::Event: return "EVENT";
    }
    return "?";
}

bool is_named(PacketType t) {
    return t == PacketType::CmdRequest || t == PacketType::EventRegister ||
           t == PacketType::EventUnregister || t == PacketType::Event;
}

bool has_message(PacketType t) {
    return t == PacketType::CmdRequest || t == PacketType::CmdResponse || t == PacketType::Event;
}

namespace {
Error packet_error(std::string what, std::string why) { return Error{std::move(what), "", std::move(why)}; }
}  // namespace

Result<std::vector<uint8_t>> encode_packet(const Packet& p) {
    const char* what = "encoding vici packet";
    if (uint8_t(p.type) > uint8_t(PacketType::Event)) return packet_error(what, "unknown packet type");
    std::vector<uint8_t> out(kFrameHeader, 0);
    out.push_back(uint8_t(p.type));
    if (is_named(p.type)) {
        if (p.name.empty() || p.name.size() > kMaxNameLength)
            return packet_error(what, std::string(to_string(p.type)) + " needs a name of 1..255 bytes");
        out.push_back(uint8_t(p.name.size()));
        out.insert(out.end(), p.name.begin(), p.name.end());
    }
    if (has_message(p.type)) {
        if (Status st = append_message(p.message, out); !st) return st.error();
    }
    const size_t len = out.size() - kFrameHeader;
    if (len > kMaxSegment)
        return packet_error(what, "packet of " + std::to_string(len) + " bytes exceeds the 512 KiB segment limit");
    for (int i = 0; i < 4; ++i) out[size_t(i)] = uint8_t(len >> (24 - 8 * i));
    return out;
}

Result<Packet> decode_packet(std::span<const uint8_t> payload) {
    const char* what = "decoding vici packet";
    if (payload.empty()) return packet_error(what, "empty packet");
    if (payload.size() > kMaxSegment) return packet_error(what, "packet exceeds the 512 KiB segment limit");
    if (payload[0] > uint8_t(PacketType::Event))
        return packet_error(what, "unknown packet type " + std::to_string(payload[0]));
    Packet p;
    p.type = PacketType(payload[0]);
    size_t pos = 1;
    if (is_named(p.type)) {
        if (payload.size() < 2) return packet_error(what, "truncated name of " + std::string(to_string(p.type)));
        const size_t len = payload[1];
        if (len == 0) return packet_error(what, std::string(to_string(p.type)) + " with an empty name");
        if (payload.size() - 2 < len) return packet_error(what, "truncated name of " + std::string(to_string(p.type)));
        p.name.assign(reinterpret_cast<const char*>(payload.data()) + 2, len);
        pos = 2 + len;
    }
    std::span<const uint8_t> rest = payload.subspan(pos);
    if (!has_message(p.type)) {
        if (!rest.empty()) return packet_error(what, std::string(to_string(p.type)) + " carries unexpected bytes");
        return p;
    }
    Result<Section> msg = decode_message(rest);
    if (!msg) {
        Error e = msg.error();
        e.where = std::string(to_string(p.type)) + (p.name.empty() ? "" : " '" + p.name + "'") +
                  (e.where.empty() ? "" : ", " + e.where);
        return e;
    }
    p.message = std::move(*msg);
    return p;
}

void FrameReader::feed(std::span<const uint8_t> bytes) {
    if (poisoned_) return;
    // Compact when the consumed prefix dominates, so the buffer stays bounded.
    if (start_ > 0 && start_ >= buf_.size() / 2) {
        buf_.erase(buf_.begin(), buf_.begin() + std::ptrdiff_t(start_));
        start_ = 0;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<std::vector<uint8_t>>> FrameReader::next() {
    if (poisoned_)
        return Error{"reading vici frame", "", "length " + std::to_string(bad_length_) + " exceeds the 512 KiB limit"};
    if (buffered() < kFrameHeader) return std::optional<std::vector<uint8_t>>{};
    const uint8_t* h = buf_.data() + start_;
    const size_t len = size_t(h[0]) << 24 | size_t(h[1]) << 16 | size_t(h[2]) << 8 | h[3];
    if (len > kMaxSegment) {
        poisoned_ = true;
        bad_length_ = len;
        buf_.clear();
        start_ = 0;
        return next();
    }
    if (buffered() - kFrameHeader < len) return std::optional<std::vector<uint8_t>>{};
    std::vector<uint8_t> payload(h + kFrameHeader, h + kFrameHeader + len);
    start_ += kFrameHeader + len;
    return std::optional<std::vector<uint8_t>>(std::move(payload));
}

void FrameReader::reset() {
    buf_.clear();
    start_ = 0;
    poisoned_ = false;
    bad_length_ = 0;
}

}  // namespace avpn::vici
