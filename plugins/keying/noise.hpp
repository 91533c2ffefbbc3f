// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (Noise Protocol Framework rev 34),
// the handshake WireGuard runs, for the two messages of IK:
//
//   <- s
//   ...
//   -> e, es, s, ss            message 1, initiator to responder
//   <- e, ee, se, psk          message 2, responder to initiator
//
// Only the Noise parts live here (no avpn header, indexes or MACs:
// handshake_wire.hpp frames them). The prologue binds a handshake to its
// XFRM group: "avpn xfrm v1" followed by the group name's bytes. The PSK
// is 32 zero bytes until issue 14 brings the group key; psk2 is kept so the
// wire does not change when it does.
#pragma once

#include <optional>
#include <string_view>

#include "plugins/keying/noise_primitives.hpp"

namespace avpn::keying {

inline constexpr std::string_view kNoiseProtocolName = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kProloguePrefix = "avpn xfrm v1";

Bytes make_prologue(std::string_view group);

// The SymmetricState object of section 5.2 (with its CipherState folded in:
// IK never encrypts more than one message per key, but n is kept as the
// spec says).
class SymmetricState {
public:
    static Result<SymmetricState> initialize(std::string_view protocol_name);
    Status mix_key(ByteView input_key_material);
    Status mix_hash(ByteView data);
    Status mix_key_and_hash(ByteView input_key_material);
    Result<Bytes> encrypt_and_hash(ByteView plaintext);
    Result<Bytes> decrypt_and_hash(ByteView ciphertext);
    // The two CipherState keys: first for initiator -> responder.
    Result<std::vector<Secret32>> split() const;
    const Key32& handshake_hash() const { return h_; }

private:
    Secret32 ck_;
    Key32 h_{};
    Secret32 k_;
    bool has_key_ = false;
    uint64_t n_ = 0;
};

// Noise message sizes for a payload of `payload_len` bytes.
constexpr size_t noise_msg1_len(size_t payload_len) { return 32 + 32 + kTagLen + payload_len + kTagLen; }
constexpr size_t noise_msg2_len(size_t payload_len) { return 32 + payload_len + kTagLen; }

// A site's static X25519 key pair, its public half computed once (an X25519
// base-point multiplication saved per handshake); the private half wiped.
struct StaticKey {
    Secret32 private_key;
    Key32 public_key{};
    static Result<StaticKey> from_private(const Key32& private_key);
};

// The two transport keys Split() gives: the initiator sends with the first.
struct TransportKeys {
    Secret32 initiator_to_responder;
    Secret32 responder_to_initiator;
};

// One IKpsk2 handshake, one role, used once: initiator write_message1 then
// read_message2; responder read_message1 then write_message2; then split().
// Calls out of that order fail. `ephemeral_private` is for tests (fixed
// vectors); otherwise a fresh key is drawn.
class IkPsk2 {
public:
    static Result<IkPsk2> initiator(const StaticKey& s, const Key32& responder_public, ByteView prologue,
                                    const Secret32& psk, std::optional<Key32> ephemeral_private = std::nullopt);
    static Result<IkPsk2> responder(const StaticKey& s, ByteView prologue, const Secret32& psk,
                                    std::optional<Key32> ephemeral_private = std::nullopt);

    Result<Bytes> write_message1(ByteView payload);  // e || enc(s) || enc(payload)
    Result<Bytes> read_message1(ByteView message);   // -> payload; learns the initiator's static
    Result<Bytes> write_message2(ByteView payload);  // e || enc(payload)
    Result<Bytes> read_message2(ByteView message);   // -> payload
    Result<TransportKeys> split() const;
    // Replaces the PSK before message 2 uses it (psk2 mixes it only there):
    // a responder that learns the initiator from message 1 uses that
    // initiator's PSK, as WireGuard's responder looks up the peer's preshared
    // key after decrypting its static key. Fails once message 2 is done.
    Status set_psk(const Secret32& psk);

    const Key32& remote_static() const { return rs_; }
    const Key32& handshake_hash() const { return sym_.handshake_hash(); }

private:
    enum class Step { write1, read1, write2, read2, done };
    IkPsk2(SymmetricState sym, Step step) : sym_(std::move(sym)), step_(step) {}
    Status set_ephemeral(std::optional<Key32> ephemeral_private);
    Status mix_dh(const Key32& priv, const Key32& pub);

    SymmetricState sym_;
    Step step_;
    bool ready_ = false;  // both messages done: split() may run
    StaticKey s_;
    Secret32 e_;   // our ephemeral private
    Key32 e_pub_{};
    Key32 rs_{};   // remote static public
    Key32 re_{};   // remote ephemeral public
    Secret32 psk_;
};

}  // namespace avpn::keying
