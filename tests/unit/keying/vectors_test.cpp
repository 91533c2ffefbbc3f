// The fixed vectors of docs/xfrm-keying.md: inputs in vectors.hpp, the
// bytes below. dissononce_check.py proves the same bytes independently.
#include <doctest/doctest.h>

#include "tests/unit/keying/vectors.hpp"

using namespace avpn::keying;
using namespace avpn::keying::test;

TEST_CASE("fixed keys give the documented bytes (docs/xfrm-keying.md)") {
    std::string fail;
    VectorRun run = run_vectors(VectorInputs{}, fail);
    REQUIRE_MESSAGE(fail.empty(), fail);
    CHECK(hex(make_prologue("acme")) == "6176706e207866726d20763161636d65");
    CHECK(hex(run.initiation) ==
          "00000000016176701122334479a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51af0225eb4"
          "21886af8f54fb31289d49dcd82b0f6f3279d40d7cff913fece0c64ad87fdd61bb96603bd2952a831589c6e0078a74e93"
          "725efb02f4f4ecc1e8f00bd8516f26085ecbc280328da40b7bb52730320a074ffadcd588823af42ec2c440f1e8ccf788"
          "00000000000000000000000000000000");
    CHECK(hex(run.response) ==
          "00000000026176705566778811223344675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f"
          "3838969ab88cf941f96e6f1cd4edf7a603532e3d08941a9a490c0d721843772e1db22e74f403f64c0000000000000000"
          "0000000000000000");
    CHECK(hex(run.confirm) == "000000000461767055667788000000000000000026324457a0ac841b3c25e1cb802ed721");
    CHECK(hex(run.initiator.send_key.get()) == "8c467a49ee5feffc8b390fba6ff460b5d66abf66f5e4bf9e0a5612b256498238");
    CHECK(hex(run.initiator.receive_key.get()) == "eb356022624730ae787d7fccc635655d1b1b1fb7d81f299043b0ce85e3a3a4b4");
    CHECK(hex(run.initiator.esp_outbound_key.get()) == "732dd521c50607fd54ee35fdedd6f9f36f777f0d");
    CHECK(hex(run.initiator.esp_inbound_key.get()) == "2b4a333c56a186a586f892b5338e640b58449ea4");
    CHECK(run.responder.esp_inbound_key.get() == run.initiator.esp_outbound_key.get());
    CHECK(run.responder.esp_outbound_key.get() == run.initiator.esp_inbound_key.get());
}

TEST_CASE("the primitives against published answers") {
    // BLAKE2s-256("abc"), RFC 7693 appendix B.
    auto h = blake2s({view("abc")});
    REQUIRE(h);
    CHECK(hex(*h) == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
    // Keyed BLAKE2s-128: the same as Python's hashlib.blake2s(b"abc", key=00 01 02, digest_size=16).
    const uint8_t key[3] = {0, 1, 2};
    auto m = keyed_blake2s_128(ByteView(key, 3), {view("ab"), view("c")});
    REQUIRE(m);
    CHECK(hex(*m) == "321d06aebb796a548ba27514a91f72ed");
    // Noise's hash of the protocol name (37 bytes > HASHLEN, so hashed).
    auto sym = SymmetricState::initialize(kNoiseProtocolName);
    REQUIRE(sym);
    CHECK(*h != sym->handshake_hash());
    CHECK(sym->handshake_hash() == *blake2s({view(kNoiseProtocolName)}));
}
