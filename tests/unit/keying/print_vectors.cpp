// Prints the keying test vectors as "name hex" lines: the inputs, both
// datagrams, their Noise parts and payloads, the split and ESP keys.
// dissononce_check.py recomputes each from the inputs on its own.
#include <cstdio>

#include "tests/unit/keying/vectors.hpp"

using namespace avpn::keying;
using namespace avpn::keying::test;

static void line(const char* name, ByteView b) { std::printf("%s %s\n", name, hex(b).c_str()); }

int main() {
    VectorInputs in;
    std::string fail;
    VectorRun run = run_vectors(in, fail);
    if (!fail.empty()) {
        std::fprintf(stderr, "print_vectors: %s\n", fail.c_str());
        return 1;
    }
    line("prologue", make_prologue(in.group));
    line("psk", in.psk);
    line("initiator_static", in.initiator_static);
    line("responder_static", in.responder_static);
    line("initiator_ephemeral", in.initiator_ephemeral);
    line("responder_ephemeral", in.responder_ephemeral);
    line("initiation", run.initiation);
    line("response", run.response);
    line("confirm", run.confirm);
    line("noise1", ByteView(run.initiation).subspan(12, noise_msg1_len(kInitiationPayloadLen)));
    line("noise2", ByteView(run.response).subspan(16, noise_msg2_len(kResponsePayloadLen)));
    line("payload1", encode(InitiationPayload{in.timestamp, in.initiator.inbound_spi, in.initiator.epoch}));
    line("payload2", encode(ResponsePayload{in.responder.inbound_spi, in.responder.epoch}));
    line("split_initiator_to_responder", run.initiator.send_key.get());
    line("split_responder_to_initiator", run.initiator.receive_key.get());
    line("responder_split_initiator_to_responder", run.responder.receive_key.get());
    line("responder_split_responder_to_initiator", run.responder.send_key.get());
    line("esp_initiator_to_responder", run.initiator.esp_outbound_key.get());
    line("esp_responder_to_initiator", run.initiator.esp_inbound_key.get());
    line("responder_esp_initiator_to_responder", run.responder.esp_inbound_key.get());
    line("responder_esp_responder_to_initiator", run.responder.esp_outbound_key.get());
    std::printf("spi_initiator_inbound %08x\nspi_responder_inbound %08x\n", in.initiator.inbound_spi,
                in.responder.inbound_spi);
    return 0;
}
