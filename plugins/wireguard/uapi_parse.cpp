// get=1 parsing and errno lines. Unknown keys are skipped (newer daemons add
// fields); malformed values of known keys are errors naming the line.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <numeric>

#include "plugins/wireguard/uapi_codec.hpp"

namespace avpn::wg::uapi {

namespace {

template <class Int>
bool parse_int(std::string_view text, Int& out) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

// The device public key from the private key the daemon reported; every
// temporary copy of the private key is wiped.
Result<std::string> public_key_of_hex_private(std::string_view hex) {
    auto priv = key_from_hex(hex);
    if (!priv) return priv.error();
    auto pub = crypto::public_key(*priv);
    crypto::wipe(priv->data(), priv->size());
    if (!pub) return pub.error();
    return crypto::base64_encode(pub->data(), pub->size());
}

bool is_zero_key(std::string_view hex) {
    return hex.find_first_not_of('0') == std::string_view::npos;
}

// Sorts peers (and their stats, kept in step) by public key.
void sort_peers(WgDeviceStatus& st) {
    std::vector<size_t> order(st.device.peers.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return st.device.peers[a].public_key < st.device.peers[b].public_key;
    });
    std::vector<nl::WgPeer> peers;
    std::vector<WgPeerStats> stats;
    peers.reserve(order.size());
    stats.reserve(order.size());
    for (size_t i : order) {
        std::sort(st.device.peers[i].allowed_ips.begin(), st.device.peers[i].allowed_ips.end());
        peers.push_back(std::move(st.device.peers[i]));
        stats.push_back(std::move(st.peers[i]));
    }
    st.device.peers = std::move(peers);
    st.peers = std::move(stats);
}

}  // namespace

Status parse_errno(std::string_view line, const std::string& ifname) {
    constexpr std::string_view prefix = "errno=";
    long code = 0;
    if (line.substr(0, prefix.size()) != prefix || !parse_int(line.substr(prefix.size()), code))
        return Error{"read UAPI response", ifname, "expected errno=N, got '" + std::string(line.substr(0, 64)) + "'"};
    if (code == 0) return {};
    int err = static_cast<int>(code < 0 ? -code : code);
    return Error{"UAPI request refused", ifname,
                 std::string(std::strerror(err)) + " (errno " + std::to_string(code) + ")", err};
}

GetParser::GetParser(std::string ifname) : ifname_(std::move(ifname)) { status_.device.ifname = ifname_; }

Error GetParser::bad(std::string_view key, std::string_view why) const {
    return Error{"parse UAPI get response", ifname_ + " line " + std::to_string(line_no_),
                 std::string(key) + ": " + std::string(why)};
}

Status GetParser::feed(std::string_view line) {
    ++line_no_;
    if (done_) return bad("", "data after errno line");
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad(line.substr(0, 64), "expected key=value");
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "errno") {
        done_ = true;
        return parse_errno(line, ifname_);
    }
    if (key == "public_key") {
        auto b64 = hex_key_to_base64(value);
        if (!b64) return bad(key, b64.error().why);
        status_.device.peers.push_back(nl::WgPeer{.public_key = *b64});
        status_.peers.push_back(WgPeerStats{.public_key = *b64});
        in_peer_ = true;
        return {};
    }
    return in_peer_ ? feed_peer(key, value) : feed_device(key, value);
}

Status GetParser::feed_device(std::string_view key, std::string_view value) {
    if (key == "private_key") {
        if (is_zero_key(value)) return {};
        auto pub = public_key_of_hex_private(value);
        if (!pub) return bad(key, pub.error().why);
        status_.device.public_key = *pub;
        auto priv = key_from_hex(value);
        if (!priv) return bad(key, priv.error().why);
        status_.device.observed_private_key = nl::ObservedKey(std::vector<uint8_t>(priv->begin(), priv->end()));
        crypto::wipe(priv->data(), priv->size());
    } else if (key == "listen_port") {
        if (!parse_int(value, status_.device.listen_port)) return bad(key, "not a port");
    } else if (key == "fwmark") {
        if (!parse_int(value, status_.device.fwmark)) return bad(key, "not a 32-bit number");
    }
    return {};
}

Status GetParser::feed_peer(std::string_view key, std::string_view value) {
    nl::WgPeer& peer = status_.device.peers.back();
    WgPeerStats& stats = status_.peers.back();
    bool ok = true;
    if (key == "endpoint") {
        auto ep = Endpoint::parse(value);
        if (!ep) return bad(key, "not ip:port or [ip6]:port");
        peer.endpoint = *ep;
    } else if (key == "persistent_keepalive_interval") {
        ok = parse_int(value, peer.keepalive_seconds);
    } else if (key == "allowed_ip") {
        auto prefix = Prefix::parse(value);
        if (!prefix) return bad(key, "not a prefix: '" + std::string(value.substr(0, 64)) + "'");
        peer.allowed_ips.push_back(*prefix);
    } else if (key == "last_handshake_time_sec") {
        ok = parse_int(value, stats.last_handshake_sec);
    } else if (key == "last_handshake_time_nsec") {
        ok = parse_int(value, stats.last_handshake_nsec);
    } else if (key == "rx_bytes") {
        ok = parse_int(value, stats.rx_bytes);
    } else if (key == "tx_bytes") {
        ok = parse_int(value, stats.tx_bytes);
    }
    // preshared_key and protocol_version are not part of avpn's model.
    return ok ? Status{} : bad(key, "not a number in range");
}

Result<WgDeviceStatus> GetParser::finish() {
    if (!done_) return bad("", "response ended before its errno line");
    sort_peers(status_);
    return std::move(status_);
}

Result<WgDeviceStatus> parse_get(std::string_view text, const std::string& ifname) {
    GetParser parser(ifname);
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty()) break;  // end of response
        if (Status st = parser.feed(line); !st) return st.error();
    }
    return parser.finish();
}

}  // namespace avpn::wg::uapi
