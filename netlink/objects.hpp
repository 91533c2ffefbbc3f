// The kernel object model: one set of types for desired state (the planner's
// output), observed state (netlink dumps) and the delta between them, as
// wireguard-tools does with its device model. Plain values, totally ordered,
// so sorted vectors of them diff with a linear merge.
//
// Secrets are never stored here: a WireGuard private key or an SA key is
// referenced (KeyRef) and resolved only at apply time, so a plan can be
// printed, diffed and kept as a golden file.
#pragma once

#include <string.h>  // explicit_bzero

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"

namespace avpn::nl {

enum class LinkKind : uint8_t { wireguard, xfrm };

// What serves a WireGuard link: the kernel module, or wireguard-go (a TUN
// device with a UAPI socket). Observed links say which; a desired link may
// leave it to run time (`any`).
enum class WgImpl : uint8_t { any, kernel, userspace };

struct Link {
    std::string name;
    LinkKind kind = LinkKind::wireguard;
    uint32_t mtu = 0;        // 0: kernel default
    uint32_t xfrm_if_id = 0; // xfrm: if_id tying SAs/policies to this interface
    std::string underlay;    // xfrm: optional underlying device
    WgImpl wg_impl = WgImpl::any;  // wireguard only
    // Administratively up (IFF_UP). avpn always wants its links up; a link
    // someone set down is a difference the diff repairs in place, since the
    // kernel flushes the routes through it and refuses new ones.
    bool up = true;
    auto operator<=>(const Link&) const = default;
};

struct InterfaceAddress {
    std::string ifname;
    IpAddr address;
    uint8_t prefix_len = 0;
    auto operator<=>(const InterfaceAddress&) const = default;
};

// A route in one of avpn's tables, always with avpn's rtm_protocol.
struct Route {
    uint32_t table = 0;
    Prefix dst;
    std::string ifname;             // output interface
    std::optional<IpAddr> gateway;  // none: on-link through ifname
    std::optional<IpAddr> prefsrc;
    uint32_t metric = 0;
    auto operator<=>(const Route&) const = default;
};

// A policy rule in avpn's priority band.
struct Rule {
    uint32_t priority = 0;
    Family family = Family::v4;
    uint32_t table = 0;
    std::optional<Prefix> src;
    std::optional<Prefix> dst;
    uint32_t fwmark = 0;  // with fwmask: match (or with invert: skip) marked packets
    uint32_t fwmask = 0;
    bool invert = false;
    int suppress_prefixlen = -1;  // -1: unset
    auto operator<=>(const Rule&) const = default;
};

// Where key material comes from. Resolved at apply time, never printed.
struct KeyRef {
    std::string private_key_file;  // this site's X25519 key
    std::string peer_public_key;   // base64; empty for a WireGuard device key
    uint32_t epoch = 0;            // XFRM: key rotation epoch
    std::string label;             // XFRM: direction label for the KDF ("a->b")
    // XFRM: nonzero for a key avpnd's handshake made, by its id in the
    // runtime's key store; the fields above are then unused.
    uint64_t session_key = 0;
    auto operator<=>(const KeyRef&) const = default;
};

struct XfrmMark {
    uint32_t value = 0;
    uint32_t mask = 0;
    auto operator<=>(const XfrmMark&) const = default;
};

// The key bytes of an SA as the kernel dumped it. Only an undo uses them:
// a deleted SA must come back with the key it had, which its KeyRef cannot
// give (the key file may have changed since, or the SA came from an earlier
// run). Never compared (every two are equal, so the diff sees KeyRef and
// the algorithm only), printed or stored; wiped when dropped.
class ObservedKey {
public:
    ObservedKey() = default;
    explicit ObservedKey(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
    ObservedKey(const ObservedKey&) = default;
    ObservedKey(ObservedKey&& o) noexcept : bytes_(std::move(o.bytes_)) { o.bytes_.clear(); }
    ObservedKey& operator=(const ObservedKey& o) {
        if (this != &o) {
            wipe();
            bytes_ = o.bytes_;
        }
        return *this;
    }
    ObservedKey& operator=(ObservedKey&& o) noexcept {
        if (this != &o) {
            wipe();
            bytes_ = std::move(o.bytes_);
            o.bytes_.clear();
        }
        return *this;
    }
    ~ObservedKey() { wipe(); }

    bool empty() const { return bytes_.empty(); }
    const std::vector<uint8_t>& bytes() const { return bytes_; }
    friend bool operator==(const ObservedKey&, const ObservedKey&) { return true; }
    friend std::strong_ordering operator<=>(const ObservedKey&, const ObservedKey&) {
        return std::strong_ordering::equal;
    }

private:
    void wipe() {
        if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
        bytes_.clear();
    }
    std::vector<uint8_t> bytes_;
};

// The running state of an SA as a dump reports it: sequence numbers, the
// replay bitmap (XFRMA_REPLAY_ESN_VAL or the legacy XFRMA_REPLAY_VAL) and the
// current lifetime (bytes, packets, add and use times). Observed SAs only.
// A replaced SA (same SPI, same key: XFRM_MSG_UPDSA ignores addresses, the
// replay window and the algorithm) gets it, so its outbound sequence goes on
// where the old one stopped (the peer's replay window would drop a restart),
// its inbound window still refuses old packets and its lifetime counts on;
// an undo puts it back the same way. Never compared (every two are equal:
// it is the kernel's, not the plan's) and never printed.
struct ObservedReplay {
    bool known = false;  // the dump carried a replay attribute
    bool esn_layout = false;  // the bitmap is XFRMA_REPLAY_ESN_VAL's ring, not the legacy shift register
    uint32_t window = 0;      // the window the bitmap is laid out for
    uint32_t seq = 0, seq_hi = 0;    // highest sequence number received
    uint32_t oseq = 0, oseq_hi = 0;  // last sequence number sent
    std::vector<uint32_t> bitmap;    // window bits, in the kernel's layout
    uint64_t bytes = 0, packets = 0;  // current lifetime
    uint64_t add_time = 0, use_time = 0;
    friend bool operator==(const ObservedReplay&, const ObservedReplay&) { return true; }
    friend std::strong_ordering operator<=>(const ObservedReplay&, const ObservedReplay&) {
        return std::strong_ordering::equal;
    }
};

// An ESP tunnel-mode SA, UDP-encapsulated (NAT-T), AEAD.
struct XfrmSa {
    IpAddr src;  // outer addresses
    IpAddr dst;
    uint32_t spi = 0;
    uint32_t reqid = 0;
    XfrmMark mark;
    uint32_t if_id = 0;
    uint16_t encap_sport = 0;  // 0: no UDP encapsulation
    uint16_t encap_dport = 0;
    std::string aead = "rfc4106(gcm(aes))";
    uint32_t icv_bits = 128;
    uint32_t key_bits = 160;  // 128-bit AES key + 32-bit salt
    uint32_t replay_window = 128;
    // 64-bit sequence numbers (XFRM_STATE_ESN): without them an SA stops
    // sending after 2^32 packets. avpn's SAs always have them.
    bool esn = true;
    uint64_t soft_bytes = 0;  // 0: no limit
    uint64_t hard_bytes = 0;
    uint64_t soft_packets = 0;
    uint64_t hard_packets = 0;
    uint64_t soft_seconds = 0;
    uint64_t hard_seconds = 0;
    KeyRef key;
    ObservedKey observed_key;  // observed SAs only: for the undo of a delete
    ObservedReplay observed_replay;  // observed SAs only: carried by a replace
    auto operator<=>(const XfrmSa&) const = default;
};

enum class XfrmDir : uint8_t { in = 0, out = 1, fwd = 2 };
enum class XfrmAction : uint8_t { allow = 0, block = 1 };

struct XfrmTemplate {
    IpAddr src;  // outer (tunnel) addresses
    IpAddr dst;
    uint32_t reqid = 0;
    bool optional = false;  // "level use"
    auto operator<=>(const XfrmTemplate&) const = default;
};

struct XfrmPolicy {
    Prefix src;  // selector (inner)
    Prefix dst;
    XfrmDir dir = XfrmDir::out;
    uint32_t priority = 0;
    XfrmAction action = XfrmAction::allow;
    XfrmMark mark;
    uint32_t if_id = 0;
    std::vector<XfrmTemplate> templates;  // empty for block policies
    auto operator<=>(const XfrmPolicy&) const = default;
};

struct WgPeer {
    std::string public_key;  // base64, the peer's identity and sort key
    std::optional<Endpoint> endpoint;
    uint16_t keepalive_seconds = 0;
    std::vector<Prefix> allowed_ips;  // sorted
    std::string site;                 // the member's name: shown, not sent
    auto operator<=>(const WgPeer&) const = default;
};

struct WgDevice {
    std::string ifname;
    KeyRef private_key;
    std::string public_key;  // base64; desired: derived from the key file at load time
    // Observed devices only: the private key the backend reported, so the
    // undo of a key change sets the old key back (see ObservedKey).
    ObservedKey observed_private_key;

    uint16_t listen_port = 0;
    uint32_t fwmark = 0;
    std::vector<WgPeer> peers;  // sorted by public_key
    auto operator<=>(const WgDevice&) const = default;
};

// The kernel objects of one site, as desired (the planner) or as observed
// (a dump of avpn-owned objects only). Vectors sorted, no duplicates.
struct KernelState {
    std::vector<Link> links;
    std::vector<InterfaceAddress> addresses;
    std::vector<WgDevice> wireguard;
    std::vector<XfrmSa> xfrm_states;
    std::vector<XfrmPolicy> xfrm_policies;
    std::vector<Route> routes;
    std::vector<Rule> rules;
};

std::string_view to_string(LinkKind);
std::string_view to_string(WgImpl);  // the config's words: auto, kernel, userspace
std::string_view to_string(XfrmDir);
std::string_view to_string(XfrmAction);

}  // namespace avpn::nl
