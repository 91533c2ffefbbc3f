#include "plugins/registry/wire.hpp"

#include "plugins/keying/control_frame.hpp"

#include <algorithm>

namespace avpn::registry {

using namespace keying;

namespace {

void put_endpoint(Bytes& out, const std::optional<Endpoint>& e) {
    if (!e) {
        out.insert(out.end(), kEndpointLen, 0);
        return;
    }
    out.push_back(e->addr.family == Family::v4 ? 4 : 6);
    out.insert(out.end(), e->addr.bytes.begin(), e->addr.bytes.end());
    put_u16(out, e->port);
}

// An endpoint field: family 0 (all zero) is "none"; 4 or 6 with a non-zero
// port is one; anything else is malformed.
Result<std::optional<Endpoint>> get_endpoint(ByteView b, size_t at) {
    const uint8_t fam = b[at];
    ByteView addr = b.subspan(at + 1, 16);
    const uint16_t port = get_u16(b, at + 17);
    if (fam == 0) {
        if (port || std::any_of(addr.begin(), addr.end(), [](uint8_t x) { return x != 0; }))
            return malformed("endpoint", "family 0 with an address");
        return std::optional<Endpoint>{};
    }
    if ((fam != 4 && fam != 6) || port == 0) return malformed("endpoint", "bad family or port 0");
    Endpoint e;
    e.addr.family = fam == 4 ? Family::v4 : Family::v6;
    if (fam == 4 && std::any_of(addr.begin() + 4, addr.end(), [](uint8_t x) { return x != 0; }))
        return malformed("endpoint", "IPv4 address with bytes after the fourth");
    std::copy(addr.begin(), addr.end(), e.addr.bytes.begin());
    e.port = port;
    return std::optional<Endpoint>(e);
}

}  // namespace

Result<Bytes> encode(const InitiationPayload& p) {
    if (p.group.empty() || p.group.size() > kMaxGroupNameLen) return malformed("initiation payload", "group name length");
    Bytes b(p.timestamp.begin(), p.timestamp.end());
    b.push_back(uint8_t(p.group.size()));
    b.insert(b.end(), p.group.begin(), p.group.end());
    b.resize(kInitiationPayloadLen, 0);
    return b;
}

Result<InitiationPayload> decode_initiation_payload(ByteView b) {
    if (b.size() != kInitiationPayloadLen) return malformed("initiation payload", "wrong length");
    InitiationPayload p;
    std::copy_n(b.begin(), 12, p.timestamp.begin());
    const size_t n = b[12];
    if (n == 0 || n > kMaxGroupNameLen) return malformed("initiation payload", "group name length");
    if (std::any_of(b.begin() + 13 + n, b.end(), [](uint8_t x) { return x != 0; }))
        return malformed("initiation payload", "padding after the group name is not zero");
    p.group.assign(b.begin() + 13, b.begin() + 13 + n);
    return p;
}

Result<Initiation> parse_initiation(ByteView d) {
    return parse_initiation_frame(d, uint8_t(MessageType::initiation), kInitiationLen, "registry initiation");
}

Result<Response> parse_response(ByteView d) {
    return parse_response_frame(d, uint8_t(MessageType::response), kResponseLen, "registry response");
}

Result<CookieReply> parse_cookie_reply(ByteView d) {
    return parse_cookie_reply_frame(d, uint8_t(MessageType::cookie_reply), "registry cookie reply");
}

Result<Transport> parse_transport(ByteView d) {
    if (auto st = check_type(d, uint8_t(MessageType::transport), "registry transport"); !st) return st.error();
    if (d.size() < kTransportOverhead + 1 || d.size() > kMaxTransportLen)
        return malformed("registry transport", std::to_string(d.size()) + " bytes, expected 37-" +
                                                   std::to_string(kMaxTransportLen));
    return Transport{get_u32(d, 8), get_u64(d, 12), d.subspan(20)};
}

Result<Bytes> encode_initiation(uint32_t sender, ByteView noise, const Key32& key, const std::optional<Mac16>& cookie) {
    if (noise.size() != noise_msg1_len(kInitiationPayloadLen)) return malformed("registry initiation", "Noise part length");
    return frame_handshake(uint8_t(MessageType::initiation), {sender}, noise, key, cookie);
}

Result<Bytes> encode_response(uint32_t sender, uint32_t receiver, ByteView noise, const Key32& key) {
    if (noise.size() != noise_msg2_len(0)) return malformed("registry response", "Noise part length");
    return frame_handshake(uint8_t(MessageType::response), {sender, receiver}, noise, key, std::nullopt);
}

Result<Bytes> encode_cookie_reply(uint32_t receiver, const Mac16& cookie, const Key32& key, const Mac16& answered_mac1) {
    // keying's cookie reply has this layout; only the type byte differs
    // (the AEAD's AD is the answered mac1, not the header).
    auto msg = keying::encode_cookie_reply(receiver, cookie, key, answered_mac1);
    if (!msg) return msg.error();
    (*msg)[4] = uint8_t(MessageType::cookie_reply);
    return msg;
}

Result<Bytes> seal_transport(uint32_t receiver, uint64_t counter, const Key32& key, ByteView body) {
    if (body.empty() || body.size() > kMaxBodyLen) return malformed("registry transport", "body length");
    Bytes msg;
    msg.reserve(kTransportOverhead + body.size());
    put_header(msg, uint8_t(MessageType::transport));
    put_u32(msg, receiver);
    put_u64(msg, counter);
    auto sealed = aead_seal(key, noise_nonce(counter), msg, body);
    if (!sealed) return sealed.error();
    msg.insert(msg.end(), sealed->begin(), sealed->end());
    return msg;
}

Result<Bytes> open_transport(ByteView d, const Transport& t, const Key32& key) {
    auto body = aead_open(key, noise_nonce(t.counter), d.first(20), t.sealed);
    if (!body) return Error{"registry transport", "", "tag does not verify under the session's key"};
    return body;
}

// --- bodies ---

Bytes encode(const Register& r) {
    Bytes b{uint8_t(BodyKind::register_contact)};
    const size_t n = std::min(r.local.size(), kMaxLocal);
    b.push_back(uint8_t(n));
    for (size_t i = 0; i < n; ++i) put_endpoint(b, r.local[i]);
    b.push_back(uint8_t(r.filtering));
    return b;
}

Bytes encode(const Registered& r) {
    Bytes b{uint8_t(BodyKind::registered)};
    put_endpoint(b, r.observed);
    put_u16(b, r.hold_seconds);
    return b;
}

Bytes encode(const Query& q) {
    Bytes b{uint8_t(BodyKind::query)};
    const size_t n = std::min(q.members.size(), kMaxQueryKeys);
    b.push_back(uint8_t(n));
    for (size_t i = 0; i < n; ++i) b.insert(b.end(), q.members[i].begin(), q.members[i].end());
    return b;
}

Bytes encode(const Contacts& c) {
    Bytes b{uint8_t(BodyKind::contacts)};
    const size_t n = std::min(c.entries.size(), kMaxQueryKeys);
    b.push_back(uint8_t(n));
    for (size_t i = 0; i < n; ++i) {
        const ContactEntry& e = c.entries[i];
        b.insert(b.end(), e.member.begin(), e.member.end());
        b.push_back(uint8_t(e.state));
        b.push_back(uint8_t(e.filtering));
        put_endpoint(b, e.observed);
        put_endpoint(b, e.local);
    }
    return b;
}

Bytes encode_filter_test() { return Bytes{uint8_t(BodyKind::filter_test)}; }

Bytes encode(const FilterAnswer& a) {
    Bytes b{uint8_t(BodyKind::filter_answer)};
    put_endpoint(b, a.alternate);
    return b;
}

Bytes encode(const FilterProbe& p) {
    Bytes b{uint8_t(BodyKind::filter_probe)};
    put_endpoint(b, p.to);
    return b;
}

const char* name(Filtering f) {
    switch (f) {
        case Filtering::strict: return "strict";
        case Filtering::permissive: return "permissive";
        case Filtering::unknown: break;
    }
    return "unknown";
}

Result<BodyKind> peek_kind(ByteView b) {
    if (b.empty()) return malformed("registry body", "empty");
    if (b[0] < 1 || b[0] > 7) return malformed("registry body", "unknown kind " + std::to_string(b[0]));
    return BodyKind(b[0]);
}

namespace {
// Kind byte, count byte (<= max), count items and `tail` bytes after them:
// the length must be exactly that.
Result<size_t> counted(ByteView b, BodyKind kind, size_t max, size_t item, const char* what, size_t tail = 0) {
    if (b.size() < 2 || b[0] != uint8_t(kind)) return malformed(what, "wrong kind or too short");
    const size_t n = b[1];
    if (n > max) return malformed(what, "too many items");
    if (b.size() != 2 + n * item + tail) return malformed(what, "length does not match its count");
    return n;
}

Result<Filtering> get_filtering(uint8_t v, const char* what) {
    if (v > uint8_t(Filtering::permissive)) return malformed(what, "unknown filtering " + std::to_string(v));
    return Filtering(v);
}
}  // namespace

Result<Register> decode_register(ByteView b) {
    auto n = counted(b, BodyKind::register_contact, kMaxLocal, kEndpointLen, "register", 1);
    if (!n) return n.error();
    Register r;
    auto f = get_filtering(b.back(), "register");
    if (!f) return f.error();
    r.filtering = *f;
    for (size_t i = 0; i < *n; ++i) {
        auto e = get_endpoint(b, 2 + i * kEndpointLen);
        if (!e) return e.error();
        if (!*e) return malformed("register", "an empty local contact");
        r.local.push_back(**e);
    }
    return r;
}

Result<Registered> decode_registered(ByteView b) {
    if (b.size() != 1 + kEndpointLen + 2 || b[0] != uint8_t(BodyKind::registered))
        return malformed("registered", "wrong kind or length");
    auto e = get_endpoint(b, 1);
    if (!e) return e.error();
    if (!*e) return malformed("registered", "no observed contact");
    return Registered{**e, get_u16(b, 1 + kEndpointLen)};
}

Result<Query> decode_query(ByteView b) {
    auto n = counted(b, BodyKind::query, kMaxQueryKeys, 32, "query");
    if (!n) return n.error();
    Query q;
    q.members.resize(*n);
    for (size_t i = 0; i < *n; ++i) std::copy_n(b.begin() + 2 + i * 32, 32, q.members[i].begin());
    return q;
}

Result<Contacts> decode_contacts(ByteView b) {
    auto n = counted(b, BodyKind::contacts, kMaxQueryKeys, kContactEntryLen, "contacts");
    if (!n) return n.error();
    Contacts c;
    for (size_t i = 0; i < *n; ++i) {
        const size_t at = 2 + i * kContactEntryLen;
        ContactEntry e;
        std::copy_n(b.begin() + at, 32, e.member.begin());
        if (b[at + 32] > 2) return malformed("contacts", "unknown state");
        e.state = ContactState(b[at + 32]);
        auto f = get_filtering(b[at + 33], "contacts");
        if (!f) return f.error();
        e.filtering = *f;
        auto o = get_endpoint(b, at + 34);
        auto l = get_endpoint(b, at + 34 + kEndpointLen);
        if (!o) return o.error();
        if (!l) return l.error();
        e.observed = *o;
        e.local = *l;
        if ((e.state == ContactState::registered) != e.observed.has_value())
            return malformed("contacts", "a registered entry needs an observed contact, others none");
        if (e.state != ContactState::registered && e.filtering != Filtering::unknown)
            return malformed("contacts", "only a registered entry has a filtering");
        c.entries.push_back(e);
    }
    return c;
}

Result<FilterAnswer> decode_filter_answer(ByteView b) {
    if (b.size() != 1 + kEndpointLen || b[0] != uint8_t(BodyKind::filter_answer))
        return malformed("filter answer", "wrong kind or length");
    auto e = get_endpoint(b, 1);
    if (!e) return e.error();
    return FilterAnswer{*e};
}

Result<FilterProbe> decode_filter_probe(ByteView b) {
    if (b.size() != 1 + kEndpointLen || b[0] != uint8_t(BodyKind::filter_probe))
        return malformed("filter probe", "wrong kind or length");
    auto e = get_endpoint(b, 1);
    if (!e) return e.error();
    if (!*e) return malformed("filter probe", "no endpoint");
    return FilterProbe{**e};
}

}  // namespace avpn::registry
