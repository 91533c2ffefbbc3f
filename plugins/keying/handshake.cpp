#include "plugins/keying/handshake.hpp"

#include <algorithm>

namespace avpn::keying {

namespace {

Error rejected(const char* what, std::string why) { return Error{what, "", std::move(why)}; }

// Both sides fill a Session the same way; only the direction differs.
Result<Session> make_session(bool initiator, const IkPsk2& hs, const LocalChoice& local, uint32_t remote_index,
                             uint32_t outbound_spi, uint32_t peer_epoch, size_t esp_len) {
    auto keys = hs.split();
    if (!keys) return keys.error();
    Session s;
    s.initiator = initiator;
    s.peer_static = hs.remote_static();
    s.local_index = local.index;
    s.remote_index = remote_index;
    s.send_key = initiator ? keys->initiator_to_responder : keys->responder_to_initiator;
    s.receive_key = initiator ? keys->responder_to_initiator : keys->initiator_to_responder;
    s.inbound_spi = local.inbound_spi;
    s.outbound_spi = outbound_spi;
    s.local_epoch = local.epoch;
    s.peer_epoch = peer_epoch;
    auto in = esp_key(s.receive_key.get(), s.inbound_spi, esp_len);
    auto out = esp_key(s.send_key.get(), s.outbound_spi, esp_len);
    if (!in) return in.error();
    if (!out) return out.error();
    s.esp_inbound_key = std::move(*in);
    s.esp_outbound_key = std::move(*out);
    return s;
}

}  // namespace

Result<Initiator> Initiator::create(InitiatorConfig config) {
    Initiator i;
    auto s = StaticKey::from_private(config.static_private);
    if (!s) return s.error();
    auto remote_mac1 = mac1_key(config.responder_public);
    auto self_mac1 = mac1_key(s->public_key);
    auto remote_cookie = cookie_key(config.responder_public);
    if (!remote_mac1 || !self_mac1 || !remote_cookie) return rejected("initiator", "libcrypto failure");
    i.mac1_key_remote_ = *remote_mac1;
    i.mac1_key_self_ = *self_mac1;
    i.cookie_key_remote_ = *remote_cookie;
    i.static_ = *s;
    i.responder_public_ = config.responder_public;
    i.prologue_ = make_prologue(config.group);
    i.psk_ = Secret32(config.psk);
    i.esp_key_len_ = config.esp_key_len;
    return i;
}

Result<Bytes> Initiator::start(const LocalChoice& local, const Tai64n& timestamp, Time now,
                               std::optional<Key32> ephemeral_private) {
    pending_.reset();
    if (local.inbound_spi == 0) return rejected("initiation", "SPI 0 is not an ESP SPI");
    auto hs = IkPsk2::initiator(static_, responder_public_, prologue_, psk_, ephemeral_private);
    if (!hs) return hs.error();
    auto noise = hs->write_message1(encode(InitiationPayload{timestamp, local.inbound_spi, local.epoch}));
    if (!noise) return noise.error();
    std::optional<Mac16> cookie;
    if (cookie_ && now - cookie_at_ < CookieJar::kSecretLifetime) cookie = cookie_;
    auto msg = encode_initiation(local.index, *noise, mac1_key_remote_, cookie);
    if (!msg) return msg.error();
    pending_.emplace(Pending{std::move(*hs), local, mac1_of(*msg)});
    return msg;
}

Status Initiator::take_cookie(ByteView datagram, Time now) {
    auto r = parse_cookie_reply(datagram);
    if (!r) return r.error();
    if (!pending_ || r->receiver != pending_->local.index)
        return rejected("cookie reply", "not for our pending initiation");
    auto cookie = open_cookie_reply(*r, cookie_key_remote_, pending_->mac1);
    if (!cookie) return cookie.error();
    cookie_ = *cookie;
    cookie_at_ = now;
    return {};
}

Result<Session> Initiator::finish(ByteView datagram) {
    auto r = parse_response(datagram);
    if (!r) return r.error();
    if (!pending_ || r->receiver != pending_->local.index)
        return rejected("response", "not for our pending initiation");
    if (!mac1_valid(datagram, mac1_key_self_)) return rejected("response", "mac1 does not verify");
    // Only responders ask for cookies (an initiator takes responses to its
    // own pending initiation only), so a response's mac2 is zero.
    if (!std::all_of(datagram.end() - 16, datagram.end(), [](uint8_t b) { return b == 0; }))
        return rejected("response", "mac2 is not zero");
    // The handshake state is used once: a forged response that passes mac1
    // (mac1 is keyed with a public key) still ends this attempt, as in
    // WireGuard; the caller retries with a new start().
    Pending p = std::move(*pending_);
    pending_.reset();
    auto payload = p.hs.read_message2(r->noise);
    if (!payload) return payload.error();
    auto body = decode_response_payload(*payload);
    crypto::wipe(payload->data(), payload->size());
    if (!body) return body.error();
    return make_session(true, p.hs, p.local, r->sender, body->inbound_spi, body->epoch, esp_key_len_);
}

Result<Responder> Responder::create(ResponderConfig config, ChooseLocal choose) {
    Responder r;
    auto s = StaticKey::from_private(config.static_private);
    if (!s) return s.error();
    auto m = mac1_key(s->public_key);
    auto c = cookie_key(s->public_key);
    if (!m || !c) return rejected("responder", "libcrypto failure");
    r.static_ = *s;
    r.prologue_ = make_prologue(config.group);
    r.psk_ = Secret32(config.psk);
    r.esp_key_len_ = config.esp_key_len;
    r.mac1_key_self_ = *m;
    r.cookie_key_self_ = *c;
    r.limiter_ = RateLimiter(config.rate);
    r.load_ = LoadMeter(config.under_load_threshold);
    r.choose_ = std::move(choose);
    return r;
}

Result<ResponderOutcome> Responder::consume(ByteView datagram, const Endpoint& from, Time now,
                                            std::optional<Key32> ephemeral_private) {
    auto init = parse_initiation(datagram);
    if (!init) return init.error();
    if (!mac1_valid(datagram, mac1_key_self_)) return rejected("initiation", "mac1 does not verify (not for our key)");
    load_.record(now);
    if (load_.under_load(now)) {
        auto ok = cookies_.mac2_valid(datagram, from, now);
        if (!ok) return ok.error();
        if (!*ok) {
            auto cookie = cookies_.cookie_for(from, now);
            if (!cookie) return cookie.error();
            auto reply = encode_cookie_reply(init->sender, *cookie, cookie_key_self_, mac1_of(datagram));
            if (!reply) return reply.error();
            return ResponderOutcome{std::move(*reply), std::nullopt};
        }
    }
    if (!limiter_.allow(from.addr, now)) return rejected("initiation", "rate limit of " + from.addr.str() + " reached");

    auto hs = IkPsk2::responder(static_, prologue_, psk_, ephemeral_private);
    if (!hs) return hs.error();
    auto payload = hs->read_message1(init->noise);
    if (!payload) return payload.error();
    auto body = decode_initiation_payload(*payload);
    crypto::wipe(payload->data(), payload->size());
    if (!body) return body.error();
    const Key32& peer = hs->remote_static();
    // Replay first: a replayed initiation must not make avpnd choose (and
    // perhaps reserve) an index and SPI for it.
    if (!timestamps_.fresh(peer, body->timestamp))
        return rejected("initiation", "replayed or stale: timestamp not newer than the peer's last");
    if (!choose_) return rejected("initiation", "no peers");
    auto local = choose_(peer);
    if (!local) {
        Error e = local.error();
        if (e.where.empty()) e.where = "initiation from " + crypto::base64_encode(peer.data(), 32);
        return e;
    }
    if (local->inbound_spi == 0) return rejected("initiation", "SPI 0 is not an ESP SPI");

    auto noise = hs->write_message2(encode(ResponsePayload{local->inbound_spi, local->epoch}));
    if (!noise) return noise.error();
    auto mac1_remote = mac1_key(peer);
    if (!mac1_remote) return mac1_remote.error();
    auto reply = encode_response(local->index, init->sender, *noise, *mac1_remote, std::nullopt);
    if (!reply) return reply.error();
    auto session = make_session(false, *hs, *local, init->sender, body->inbound_spi, body->epoch, esp_key_len_);
    if (!session) return session.error();
    timestamps_.accept(peer, body->timestamp);
    return ResponderOutcome{std::move(*reply), std::move(*session)};
}

}  // namespace avpn::keying
