// The registry protocol's datagrams (docs/registry.md has every offset).
// They share the 8-byte header and the type space of avpn's control
// datagrams on a tunnel port (plugins/keying/handshake_wire.hpp): marker
// 00 00 00 00, type, magic "avp"; the registry takes types 0x10-0x13 of the
// 0x10-0x2f range kept for it, so a site can later send them from its
// ESP-in-UDP socket and dispatch on peek_type().
//
//   0x10 initiation   site -> registry   Noise IKpsk2 message 1, mac1, mac2
//   0x11 response     registry -> site   Noise IKpsk2 message 2, mac1, mac2
//   0x12 cookie reply registry -> site   under load, as WireGuard's
//   0x13 transport    either way         receiver index, counter, AEAD body
//
// The handshake messages have one exact length each; a transport message is
// 37 to kMaxTransportLen bytes. Parsers check header, type and length and
// nothing else: no public-key or AEAD work happens here. The bodies inside
// transport messages (register, registered, query, contacts) are decoded
// only after their tag verified.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "plugins/keying/handshake_wire.hpp"

namespace avpn::registry {

using keying::Bytes;
using keying::ByteView;
using keying::Key32;
using keying::Mac16;
using keying::Tai64n;

enum class MessageType : uint8_t {
    initiation = 0x10,
    response = 0x11,
    cookie_reply = 0x12,
    transport = 0x13,
    // A site's NAT opener before a shortcut's handshake (docs/shortcuts.md):
    // the header alone, sent with a small TTL so it dies past the site's own
    // NAT; nobody parses it, a receiver drops it like any stranger's.
    opener = 0x14,
};

inline constexpr uint16_t kDefaultPort = 9350;
inline constexpr size_t kMaxGroupNameLen = 63;  // docs/config.md: names are 1-63 characters

// The initiation's encrypted payload: TAI64N (12), the group's name length
// (1) and its bytes padded with zeros to 63 (76 bytes in all).
struct InitiationPayload {
    Tai64n timestamp{};
    std::string group;
};
inline constexpr size_t kInitiationPayloadLen = 12 + 1 + kMaxGroupNameLen;  // 76
Result<Bytes> encode(const InitiationPayload& p);
Result<InitiationPayload> decode_initiation_payload(ByteView b);

inline constexpr size_t kInitiationLen = keying::kHeaderLen + 4 + keying::noise_msg1_len(kInitiationPayloadLen) + 32;  // 216
inline constexpr size_t kResponseLen = keying::kHeaderLen + 8 + keying::noise_msg2_len(0) + 32;                        // 96
inline constexpr size_t kCookieReplyLen = keying::kHeaderLen + 4 + 12 + 16 + keying::kTagLen;                          // 56
inline constexpr size_t kTransportOverhead = keying::kHeaderLen + 4 + 8 + keying::kTagLen;                             // 36
inline constexpr size_t kMaxBodyLen = 1200;  // fits a 1280-byte IPv6 minimum MTU with IP and UDP headers
inline constexpr size_t kMaxTransportLen = kTransportOverhead + kMaxBodyLen;

// The handshake messages have keying's layouts (plugins/keying/control_frame.hpp);
// a cookie reply opens with keying::open_cookie_reply.
using keying::CookieReply;
using keying::Initiation;
using keying::Response;
struct Transport {
    uint32_t receiver = 0;
    uint64_t counter = 0;
    ByteView sealed;  // body || tag, a view into the datagram
};

Result<Initiation> parse_initiation(ByteView datagram);
Result<Response> parse_response(ByteView datagram);
Result<CookieReply> parse_cookie_reply(ByteView datagram);
Result<Transport> parse_transport(ByteView datagram);

// mac1/mac2 as keying's (the last 32 bytes of an initiation or response).
Result<Bytes> encode_initiation(uint32_t sender, ByteView noise, const Key32& mac1_key,
                                const std::optional<Mac16>& cookie);
Result<Bytes> encode_response(uint32_t sender, uint32_t receiver, ByteView noise, const Key32& mac1_key);
Result<Bytes> encode_cookie_reply(uint32_t receiver, const Mac16& cookie, const Key32& cookie_key,
                                  const Mac16& answered_mac1);

// Transport: AEAD = ChaCha20-Poly1305 under the sender's Noise transport
// key, nonce = Noise nonce(counter), AD = the 20 bytes before the body.
Result<Bytes> seal_transport(uint32_t receiver, uint64_t counter, const Key32& key, ByteView body);
Result<Bytes> open_transport(ByteView datagram, const Transport& parsed, const Key32& key);

// --- bodies (plaintext of transport messages); first byte is the kind ---
enum class BodyKind : uint8_t {
    register_contact = 0x01,  // site -> registry: "this is me", also the keepalive
    registered = 0x02,        // registry -> site: the contact it observed
    query = 0x03,             // site -> registry: contacts of these members, and push their changes
    contacts = 0x04,          // registry -> site: an answer, or a push
    // RFC 5780's filtering test (docs/registry.md, "Filtering"): the site
    // asks; the registry answers from where the site sends (filter_answer,
    // naming its alternate address) and sends filter_probe from its
    // alternate, which the site never sent to. The probe gets through only a
    // NAT that lets in datagrams from endpoints the site did not send to.
    filter_test = 0x05,    // site -> registry
    filter_answer = 0x06,  // registry -> site, from its own address
    filter_probe = 0x07,   // registry -> site, from its alternate address
};

// What a site's NAT does with a datagram from an endpoint the site never
// sent to, as its own filtering test found (the site reports it with its
// registration; the registry hands it on with the site's contact).
enum class Filtering : uint8_t {
    unknown = 0,     // not tested: no registry with an alternate address, or no verdict yet
    strict = 1,      // the probe did not arrive: address- and port-dependent filtering
    permissive = 2,  // the probe arrived: the NAT filters by address or not at all
};
const char* name(Filtering f);

inline constexpr size_t kEndpointLen = 19;   // family (4|6), 16 address bytes, port
inline constexpr size_t kMaxLocal = 4;        // LAN contacts per registration
inline constexpr size_t kMaxQueryKeys = 16;   // per query and per contacts message
inline constexpr size_t kContactEntryLen = 32 + 1 + 1 + kEndpointLen + kEndpointLen;  // 72

struct Register {
    std::vector<Endpoint> local;  // the site's own LAN addresses + tunnel port (hairpin), at most 4
    Filtering filtering = Filtering::unknown;  // its NAT's, by its own test
};
struct Registered {
    Endpoint observed;      // the UDP source the registry saw: the NAT's mapping
    uint16_t hold_seconds;  // how long it keeps the contact without a keepalive
};
struct Query {
    std::vector<Key32> members;  // at most 16
};
enum class ContactState : uint8_t {
    unknown = 0,         // not a member of the asker's group here
    not_registered = 1,  // a member, no live registration
    registered = 2,
};
struct ContactEntry {
    Key32 member{};
    ContactState state = ContactState::unknown;
    std::optional<Endpoint> observed;
    std::optional<Endpoint> local;  // its first LAN contact
    Filtering filtering = Filtering::unknown;  // as the member reported it; unknown unless registered
};
struct Contacts {
    std::vector<ContactEntry> entries;  // at most 16
};
struct FilterAnswer {
    std::optional<Endpoint> alternate;  // where the probe comes from; none: this registry cannot test
};
struct FilterProbe {
    Endpoint to;  // the contact it was sent to (the site's observed one)
};

Bytes encode(const Register& b);
Bytes encode(const Registered& b);
Bytes encode(const Query& b);
Bytes encode(const Contacts& b);
Bytes encode_filter_test();
Bytes encode(const FilterAnswer& b);
Bytes encode(const FilterProbe& b);
Result<BodyKind> peek_kind(ByteView body);
Result<Register> decode_register(ByteView body);
Result<Registered> decode_registered(ByteView body);
Result<Query> decode_query(ByteView body);
Result<Contacts> decode_contacts(ByteView body);
Result<FilterAnswer> decode_filter_answer(ByteView body);
Result<FilterProbe> decode_filter_probe(ByteView body);

}  // namespace avpn::registry
