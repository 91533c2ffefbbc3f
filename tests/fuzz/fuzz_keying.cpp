// Fuzzes the XFRM key exchange's parsers and entry points (plugins/keying):
// any datagram a stranger can send to an ESP-in-UDP port. Nothing may crash
// or leak. The first input byte picks a mode: bit 0 recomputes mac1 (anyone
// can, it is keyed by a public key) so inputs reach the Noise code behind
// it; bit 1 points a response at the initiator's pending index.
#include <cstddef>
#include <cstdint>

#include "plugins/keying/handshake.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace avpn;
using namespace avpn::keying;
using avpn::fuzz::fixed_key;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    Bytes d(data + 1, data + size);
    static const Key32 responder_static = fixed_key(0x20), initiator_static = fixed_key(0x00);
    static const Key32 responder_public = *crypto::public_key(responder_static);
    static const Key32 initiator_public = *crypto::public_key(initiator_static);
    const Time now = fuzz::kNow;
    const Endpoint from = fuzz::kFrom;

    (void)peek_type(d);
    (void)decode_initiation_payload(d);
    (void)decode_response_payload(d);

    if ((mode & 1) && (d.size() == kInitiationLen || d.size() == kResponseLen))
        fuzz::make_mac1_valid(d, d.size() == kResponseLen ? initiator_public : responder_public);
    auto responder = Responder::create({responder_static, "acme", {}, 20, {}, size_t(mode >> 4)},
                                       [](const Key32&) { return Result<LocalChoice>(LocalChoice{1, 0x40000002, 1}); });
    (void)responder->consume(d, from, now);

    auto initiator = Initiator::create({initiator_static, responder_public, "acme"});
    const LocalChoice local{0x11223344, 0x40000001, 1};
    (void)initiator->start(local, tai64n_from_unix(1764892800, 0), now, fixed_key(0x40));
    if ((mode & 2) && d.size() >= 16) {
        d[12] = 0x11, d[13] = 0x22, d[14] = 0x33, d[15] = 0x44;  // response's receiver index
        d[8] = 0x11, d[9] = 0x22, d[10] = 0x33, d[11] = 0x44;    // cookie reply's
    }
    (void)initiator->take_cookie(d, now);
    (void)initiator->finish(d);

    Session session;
    session.local_index = 0x11223344;
    session.receive_key = Secret32(fixed_key(0x80));
    (void)check_confirm(session, d);
    return 0;
}
