// set=1 encoding. The request is built into one reusable buffer that is
// handed to the sink whenever it passes chunk_bytes, so a 10,000-peer change
// costs one pass and a bounded amount of memory, never a growing string.
#include <charconv>
#include <cstring>

#include "plugins/wireguard/uapi_codec.hpp"

namespace avpn::wg::uapi {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void write_hex(const crypto::Key32& key, char* out) {
    for (size_t i = 0; i < key.size(); ++i) {
        out[2 * i] = kHexDigits[key[i] >> 4];
        out[2 * i + 1] = kHexDigits[key[i] & 0xf];
    }
}

class ChunkWriter {
public:
    ChunkWriter(const Sink& sink, size_t chunk_bytes) : sink_(sink), chunk_(chunk_bytes) {
        // Room for the largest line too, so the buffer never reallocates and
        // leaves a stray copy of the private key line behind.
        buf_.reserve(chunk_ + 256);
    }
    ~ChunkWriter() { crypto::wipe(buf_.data(), buf_.size()); }

    void line(std::string_view key, std::string_view value) {
        buf_.append(key);
        buf_.push_back('=');
        buf_.append(value);
        buf_.push_back('\n');
    }
    void number(std::string_view key, uint64_t value) {
        char digits[24];
        auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        line(key, std::string_view(digits, static_cast<size_t>(end - digits)));
    }
    void key(std::string_view name, const crypto::Key32& k) {
        char hex[64];
        write_hex(k, hex);
        line(name, std::string_view(hex, sizeof hex));
        crypto::wipe(hex, sizeof hex);
    }
    void raw(std::string_view text) { buf_.append(text); }

    Status maybe_flush() { return buf_.size() >= chunk_ ? flush() : Status{}; }
    Status flush() {
        if (buf_.empty()) return {};
        Status st = sink_(buf_);
        crypto::wipe(buf_.data(), buf_.size());
        buf_.clear();
        return st;
    }

private:
    const Sink& sink_;
    size_t chunk_;
    std::string buf_;
};

void encode_peer(const WgPeerChange& p, ChunkWriter& w) {
    // validate() has checked every key, so decoding cannot fail here.
    auto key = crypto::base64_decode_key(p.public_key);
    w.key("public_key", *key);
    if (p.remove) {
        w.raw("remove=true\n");
        return;
    }
    if (p.update_only) w.raw("update_only=true\n");
    if (p.endpoint) w.line("endpoint", p.endpoint->str());
    if (p.keepalive_seconds) w.number("persistent_keepalive_interval", *p.keepalive_seconds);
    if (p.replace_allowed_ips) w.raw("replace_allowed_ips=true\n");
    for (const Prefix& ip : p.allowed_ips) w.line("allowed_ip", ip.str());
}

}  // namespace

std::string key_to_hex(const crypto::Key32& key) {
    std::string out(64, '0');
    write_hex(key, out.data());
    return out;
}

Result<crypto::Key32> key_from_hex(std::string_view hex) {
    if (hex.size() != 64)
        return Error{"decode hex key", "", "expected 64 hex digits, got " + std::to_string(hex.size())};
    crypto::Key32 key{};
    for (size_t i = 0; i < key.size(); ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return Error{"decode hex key", "", "not a hex digit"};
        key[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return key;
}

Result<std::string> hex_key_to_base64(std::string_view hex) {
    auto key = key_from_hex(hex);
    if (!key) return key.error();
    return crypto::base64_encode(key->data(), key->size());
}

Result<std::string> base64_key_to_hex(std::string_view base64) {
    auto key = crypto::base64_decode_key(base64);
    if (!key) return key.error();
    return key_to_hex(*key);
}

Status validate(const WgDeviceChange& change) {
    for (const WgPeerChange& p : change.peers) {
        auto key = crypto::base64_decode_key(p.public_key);
        if (!key) return Error{"invalid peer public key", change.ifname, "'" + p.public_key + "': " + key.error().why};
    }
    return {};
}

Status encode_set(const WgDeviceChange& change, const std::optional<SecretKey>& private_key,
                  const Sink& sink, size_t chunk_bytes) {
    if (Status st = validate(change); !st) return st;
    ChunkWriter w(sink, chunk_bytes);
    w.raw("set=1\n");
    if (private_key) w.key("private_key", private_key->bytes());
    if (change.listen_port) w.number("listen_port", *change.listen_port);
    if (change.fwmark) w.number("fwmark", *change.fwmark);
    if (change.replace_peers) w.raw("replace_peers=true\n");
    for (const WgPeerChange& p : change.peers) {
        encode_peer(p, w);
        if (Status st = w.maybe_flush(); !st) return st;
    }
    w.raw("\n");
    return w.flush();
}

}  // namespace avpn::wg::uapi
