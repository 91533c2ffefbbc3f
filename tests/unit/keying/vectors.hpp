// The fixed inputs of avpn's keying test vectors (docs/xfrm-keying.md) and
// one deterministic handshake over them: the exact bytes are checked in
// vectors_test.cpp and, independently, by dissononce_check.py against
// dissononce's Noise through print_vectors.
#pragma once

#include <cstdio>
#include <string>

#include "plugins/keying/handshake.hpp"

namespace avpn::keying::test {

inline Key32 key_from(uint8_t first) {  // first, first+1, ... first+31
    Key32 k;
    for (size_t i = 0; i < 32; ++i) k[i] = uint8_t(first + i);
    return k;
}

inline std::string hex(ByteView b) {
    std::string s;
    char buf[3];
    for (uint8_t c : b) {
        std::snprintf(buf, sizeof buf, "%02x", c);
        s += buf;
    }
    return s;
}

struct VectorInputs {
    std::string group = "acme";
    Key32 initiator_static = key_from(0x00), responder_static = key_from(0x20);
    Key32 initiator_ephemeral = key_from(0x40), responder_ephemeral = key_from(0x60);
    Key32 psk{};  // all zero until issue 14
    Tai64n timestamp = tai64n_from_unix(1764892800, 123 << 24);  // 2025-12-05T00:00:00Z + ~2.06 s
    LocalChoice initiator{0x11223344, 0x40000001, 1};
    LocalChoice responder{0x55667788, 0x40000002, 1};
    Endpoint initiator_from{*IpAddr::parse("192.0.2.11"), 51820};
};

struct VectorRun {
    Bytes initiation, response, confirm;
    Session initiator, responder;
};

// Steps through one handshake; `fail` is set to the first error's text.
inline VectorRun run_vectors(const VectorInputs& in, std::string& fail) {
    VectorRun out;
    Time now = Time{} + std::chrono::hours(1);
    auto ini = Initiator::create({in.initiator_static, *crypto::public_key(in.responder_static), in.group, in.psk});
    auto res = Responder::create({in.responder_static, in.group, in.psk},
                                 [&](const Key32&) { return Result<LocalChoice>(in.responder); });
    if (!ini || !res) { fail = "create"; return out; }
    auto m1 = ini->start(in.initiator, in.timestamp, now, in.initiator_ephemeral);
    if (!m1) { fail = m1.error().str(); return out; }
    auto r = res->consume(*m1, in.initiator_from, now, in.responder_ephemeral);
    if (!r || !r->session) { fail = r ? "no session" : r.error().str(); return out; }
    auto s = ini->finish(r->reply);
    if (!s) { fail = s.error().str(); return out; }
    auto c = make_confirm(*s);
    if (!c) { fail = c.error().str(); return out; }
    out.initiation = *m1;
    out.response = r->reply;
    out.confirm = *c;
    out.initiator = *s;
    out.responder = *r->session;
    return out;
}

}  // namespace avpn::keying::test
