// A fresh initiator/responder pair over the vectors' keys, for tests that
// need many independent handshakes.
#pragma once

#include "tests/unit/keying/vectors.hpp"

namespace avpn::keying::test {

struct Pair {
    VectorInputs in;
    Initiator initiator;
    Responder responder;
    Time now = Time{} + std::chrono::hours(1);
    uint64_t clock_seconds = 1764892800;

    static Pair make(ResponderConfig rc = {}, VectorInputs in = {}) {
        rc.static_private = in.responder_static;
        rc.group = in.group;
        auto i = Initiator::create({in.initiator_static, *crypto::public_key(in.responder_static), in.group});
        auto r = Responder::create(rc, [choice = in.responder](const Key32&) { return Result<LocalChoice>(choice); });
        return Pair{in, std::move(*i), std::move(*r)};
    }
    // An initiation with a timestamp one second later than the last one.
    Bytes initiation() { return *initiator.start(in.initiator, tai64n_from_unix(++clock_seconds, 0), now); }
    Result<ResponderOutcome> consume(ByteView d) { return responder.consume(d, in.initiator_from, now); }
};

}  // namespace avpn::keying::test
