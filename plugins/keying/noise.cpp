#include "plugins/keying/noise.hpp"

#include <algorithm>

namespace avpn::keying {

namespace {
Error out_of_order(const char* what) { return Error{what, "", "called out of the handshake's order"}; }
Error short_message(const char* what) { return Error{what, "", "message has the wrong length"}; }
}  // namespace

Bytes make_prologue(std::string_view group) {
    Bytes p(kProloguePrefix.size() + group.size());
    auto rest = std::copy(kProloguePrefix.begin(), kProloguePrefix.end(), p.begin());
    std::copy(group.begin(), group.end(), rest);
    return p;
}

Result<SymmetricState> SymmetricState::initialize(std::string_view protocol_name) {
    SymmetricState s;
    if (protocol_name.size() <= kHashLen) {
        std::copy(protocol_name.begin(), protocol_name.end(), s.h_.begin());  // zero-padded
    } else {
        auto h = blake2s({view(protocol_name)});
        if (!h) return h.error();
        s.h_ = *h;
    }
    s.ck_ = Secret32(s.h_);
    return s;
}

Status SymmetricState::mix_key(ByteView ikm) {
    auto out = noise_hkdf(ck_.get(), ikm, 2);
    if (!out) return out.error();
    ck_ = (*out)[0];
    k_ = (*out)[1];  // HASHLEN is 32: no truncation
    has_key_ = true;
    n_ = 0;
    return {};
}

Status SymmetricState::mix_hash(ByteView data) {
    auto h = blake2s({h_, data});
    if (!h) return h.error();
    h_ = *h;
    return {};
}

Status SymmetricState::mix_key_and_hash(ByteView ikm) {
    auto out = noise_hkdf(ck_.get(), ikm, 3);
    if (!out) return out.error();
    ck_ = (*out)[0];
    if (auto st = mix_hash((*out)[1].get()); !st) return st;
    k_ = (*out)[2];
    has_key_ = true;
    n_ = 0;
    return {};
}

Result<Bytes> SymmetricState::encrypt_and_hash(ByteView plaintext) {
    // IK encrypts only after es, so a keyless EncryptAndHash never happens;
    // refusing it keeps a misuse from sending a static key in clear.
    if (!has_key_) return Error{"EncryptAndHash", "", "no key yet"};
    auto c = aead_seal(k_.get(), noise_nonce(n_), h_, plaintext);
    if (!c) return c.error();
    ++n_;
    if (auto st = mix_hash(*c); !st) return st.error();
    return c;
}

Result<Bytes> SymmetricState::decrypt_and_hash(ByteView ciphertext) {
    if (!has_key_) return Error{"DecryptAndHash", "", "no key yet"};
    auto p = aead_open(k_.get(), noise_nonce(n_), h_, ciphertext);
    if (!p) return p.error();
    ++n_;
    if (auto st = mix_hash(ciphertext); !st) return st.error();
    return p;
}

Result<std::vector<Secret32>> SymmetricState::split() const { return noise_hkdf(ck_.get(), {}, 2); }

// --- IKpsk2 ---

Result<StaticKey> StaticKey::from_private(const Key32& private_key) {
    auto pub = crypto::public_key(private_key);
    if (!pub) return pub.error();
    return StaticKey{Secret32(private_key), *pub};
}

Result<IkPsk2> IkPsk2::initiator(const StaticKey& s, const Key32& responder_public, ByteView prologue,
                                 const Secret32& psk, std::optional<Key32> ephemeral_private) {
    auto sym = SymmetricState::initialize(kNoiseProtocolName);
    if (!sym) return sym.error();
    IkPsk2 hs(std::move(*sym), Step::write1);
    hs.s_ = s;
    hs.rs_ = responder_public;
    hs.psk_ = psk;
    if (auto st = hs.sym_.mix_hash(prologue); !st) return st.error();
    if (auto st = hs.sym_.mix_hash(responder_public); !st) return st.error();  // pre-message "<- s"
    if (auto st = hs.set_ephemeral(ephemeral_private); !st) return st.error();
    return hs;
}

Result<IkPsk2> IkPsk2::responder(const StaticKey& s, ByteView prologue, const Secret32& psk,
                                 std::optional<Key32> ephemeral_private) {
    auto sym = SymmetricState::initialize(kNoiseProtocolName);
    if (!sym) return sym.error();
    IkPsk2 hs(std::move(*sym), Step::read1);
    hs.s_ = s;
    hs.psk_ = psk;
    if (auto st = hs.sym_.mix_hash(prologue); !st) return st.error();
    if (auto st = hs.sym_.mix_hash(s.public_key); !st) return st.error();  // pre-message "<- s"
    if (auto st = hs.set_ephemeral(ephemeral_private); !st) return st.error();
    return hs;
}

Status IkPsk2::set_ephemeral(std::optional<Key32> ephemeral_private) {
    auto e = ephemeral_private ? Result<Key32>(*ephemeral_private) : crypto::generate_private_key();
    if (!e) return e.error();
    e_ = Secret32(*e);
    crypto::wipe(e->data(), e->size());
    auto pub = crypto::public_key(e_.get());
    if (!pub) return pub.error();
    e_pub_ = *pub;
    return {};
}

Status IkPsk2::mix_dh(const Key32& priv, const Key32& pub) {
    auto dh = crypto::shared_secret(priv, pub);  // fails on a low-order point
    if (!dh) return dh.error();
    Status st = sym_.mix_key(*dh);
    crypto::wipe(dh->data(), dh->size());
    return st;
}

// -> e, es, s, ss
Result<Bytes> IkPsk2::write_message1(ByteView payload) {
    if (step_ != Step::write1) return out_of_order("write message 1");
    step_ = Step::done;  // any failure below ends this handshake
    Bytes msg(e_pub_.begin(), e_pub_.end());
    if (auto st = sym_.mix_hash(e_pub_); !st) return st.error();
    if (auto st = sym_.mix_key(e_pub_); !st) return st.error();  // psk modifier: e also goes into MixKey
    if (auto st = mix_dh(e_.get(), rs_); !st) return st.error();  // es
    auto enc_s = sym_.encrypt_and_hash(s_.public_key);
    if (!enc_s) return enc_s.error();
    msg.insert(msg.end(), enc_s->begin(), enc_s->end());
    if (auto st = mix_dh(s_.private_key.get(), rs_); !st) return st.error();  // ss
    auto enc_p = sym_.encrypt_and_hash(payload);
    if (!enc_p) return enc_p.error();
    msg.insert(msg.end(), enc_p->begin(), enc_p->end());
    step_ = Step::read2;
    return msg;
}

Result<Bytes> IkPsk2::read_message1(ByteView m) {
    if (step_ != Step::read1) return out_of_order("read message 1");
    step_ = Step::done;
    if (m.size() < noise_msg1_len(0)) return short_message("read message 1");
    std::copy_n(m.begin(), 32, re_.begin());
    if (auto st = sym_.mix_hash(re_); !st) return st.error();
    if (auto st = sym_.mix_key(re_); !st) return st.error();
    if (auto st = mix_dh(s_.private_key.get(), re_); !st) return st.error();  // es
    auto s = sym_.decrypt_and_hash(m.subspan(32, 32 + kTagLen));
    if (!s) return Error{"read message 1", "", "initiator's static key does not decrypt (wrong responder key?)"};
    std::copy_n(s->begin(), 32, rs_.begin());
    if (auto st = mix_dh(s_.private_key.get(), rs_); !st) return st.error();  // ss
    auto p = sym_.decrypt_and_hash(m.subspan(64 + kTagLen));
    if (!p) return Error{"read message 1", "", "payload does not decrypt"};
    step_ = Step::write2;
    return p;
}

// <- e, ee, se, psk
Result<Bytes> IkPsk2::write_message2(ByteView payload) {
    if (step_ != Step::write2) return out_of_order("write message 2");
    step_ = Step::done;
    Bytes msg(e_pub_.begin(), e_pub_.end());
    if (auto st = sym_.mix_hash(e_pub_); !st) return st.error();
    if (auto st = sym_.mix_key(e_pub_); !st) return st.error();
    if (auto st = mix_dh(e_.get(), re_); !st) return st.error();  // ee
    if (auto st = mix_dh(e_.get(), rs_); !st) return st.error();  // se: responder's e, initiator's s
    if (auto st = sym_.mix_key_and_hash(psk_.get()); !st) return st.error();
    auto enc_p = sym_.encrypt_and_hash(payload);
    if (!enc_p) return enc_p.error();
    msg.insert(msg.end(), enc_p->begin(), enc_p->end());
    step_ = Step::done;
    ready_ = true;
    return msg;
}

Result<Bytes> IkPsk2::read_message2(ByteView m) {
    if (step_ != Step::read2) return out_of_order("read message 2");
    step_ = Step::done;
    if (m.size() < noise_msg2_len(0)) return short_message("read message 2");
    std::copy_n(m.begin(), 32, re_.begin());
    if (auto st = sym_.mix_hash(re_); !st) return st.error();
    if (auto st = sym_.mix_key(re_); !st) return st.error();
    if (auto st = mix_dh(e_.get(), re_); !st) return st.error();  // ee
    if (auto st = mix_dh(s_.private_key.get(), re_); !st) return st.error();  // se: our s, responder's e
    if (auto st = sym_.mix_key_and_hash(psk_.get()); !st) return st.error();
    auto p = sym_.decrypt_and_hash(m.subspan(32));
    if (!p) return Error{"read message 2", "", "payload does not decrypt"};
    ready_ = true;
    return p;
}

Status IkPsk2::set_psk(const Secret32& psk) {
    if (ready_ || (step_ != Step::write1 && step_ != Step::read1 && step_ != Step::write2 && step_ != Step::read2))
        return out_of_order("set psk");
    psk_ = psk;
    return {};
}

Result<TransportKeys> IkPsk2::split() const {
    if (!ready_) return out_of_order("split");
    auto keys = sym_.split();
    if (!keys) return keys.error();
    return TransportKeys{(*keys)[0], (*keys)[1]};
}

}  // namespace avpn::keying
