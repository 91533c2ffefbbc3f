#include "plugins/registry/client.hpp"

#include <openssl/rand.h>

#include <algorithm>

namespace avpn::registry {

using namespace keying;

namespace {
constexpr std::string_view kPrologue = "avpn registry v1";
Error refused(const char* what, std::string why) { return Error{what, "", std::move(why)}; }
}  // namespace

Result<Client> Client::create(ClientConfig config, ClientTiming timing) {
    if (config.group.empty() || config.group.size() > kMaxGroupNameLen)
        return refused("registry client", "a group name is 1-63 characters");
    Client c;
    auto s = StaticKey::from_private(config.site_private);
    if (!s) return s.error();
    auto remote = mac1_key(config.registry_public);
    auto self = mac1_key(s->public_key);
    auto cookie = cookie_key(config.registry_public);
    if (!remote || !self || !cookie) return refused("registry client", "libcrypto failure");
    c.static_ = *s;
    c.registry_public_ = config.registry_public;
    c.group_ = config.group;
    c.psk_ = Secret32(config.psk);
    c.local_ = config.local;
    if (c.local_.size() > kMaxLocal) c.local_.resize(kMaxLocal);
    c.timing_ = timing;
    c.mac1_remote_ = *remote;
    c.mac1_self_ = *self;
    c.cookie_remote_ = *cookie;
    c.rng_.seed(config.seed);
    return c;
}

Time Client::next_keepalive_after(Time now) {
    const auto spread = 2 * timing_.jitter.count();
    const auto offset = spread > 0 ? std::chrono::milliseconds(int64_t(rng_() % uint64_t(spread + 1))) - timing_.jitter
                                   : std::chrono::milliseconds(0);
    return now + timing_.keepalive + offset;
}

Result<Bytes> Client::start_handshake(Time now, const Tai64n& wall, std::optional<Key32> ephemeral_private) {
    pending_.reset();
    uint32_t index = 0;
    while (index == 0)
        if (RAND_bytes(reinterpret_cast<uint8_t*>(&index), sizeof index) != 1) return refused("registry client", "no randomness");
    auto hs = IkPsk2::initiator(static_, registry_public_, view(kPrologue), psk_, ephemeral_private);
    if (!hs) return hs.error();
    auto payload = encode(InitiationPayload{wall, group_});
    if (!payload) return payload.error();
    auto noise = hs->write_message1(*payload);
    crypto::wipe(payload->data(), payload->size());
    if (!noise) return noise.error();
    std::optional<Mac16> cookie;
    if (cookie_ && now - cookie_at_ < CookieJar::kSecretLifetime) cookie = cookie_;
    auto msg = encode_initiation(index, *noise, mac1_remote_, cookie);
    if (!msg) return msg.error();
    pending_.emplace(Pending{std::move(*hs), index, mac1_of(*msg), now});
    return msg;
}

Result<Bytes> Client::registration(Time now) {
    filtering_changed_ = false;
    auto msg = current_->seal(encode(Register{local_, filtering_}));
    if (msg && !awaiting_since_) awaiting_since_ = now;
    return msg;
}

Result<Bytes> Client::register_now(Time now) {
    if (!current_) return refused("registry client", "no session yet");
    auto msg = registration(now);
    if (msg) next_keepalive_ = next_keepalive_after(now);
    return msg;
}

Result<std::vector<Bytes>> Client::queries(const std::vector<Key32>& keys) {
    std::vector<Bytes> out;
    for (size_t at = 0; at < keys.size(); at += kMaxQueryKeys) {
        Query q;
        q.members.assign(keys.begin() + long(at), keys.begin() + long(std::min(keys.size(), at + kMaxQueryKeys)));
        auto msg = current_->seal(encode(q));
        if (!msg) return msg.error();
        out.push_back(std::move(*msg));
    }
    return out;
}

void Client::want(std::vector<Key32> members) {
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (const Key32& k : members)
        if (!std::binary_search(wanted_.begin(), wanted_.end(), k)) unasked_.push_back(k);
    wanted_ = std::move(members);
    std::erase_if(unasked_, [&](const Key32& k) { return !std::binary_search(wanted_.begin(), wanted_.end(), k); });
    std::erase_if(contacts_, [&](const auto& kv) { return !std::binary_search(wanted_.begin(), wanted_.end(), kv.first); });
}

Result<std::vector<Bytes>> Client::tick(Time now, const Tai64n& wall, std::optional<Key32> ephemeral_private) {
    std::vector<Bytes> out;
    bool handshake = false;
    if (pending_) handshake = now - pending_->sent >= timing_.handshake_retry;
    else if (!current_) handshake = true;
    else if (now - current_->established >= timing_.rekey_after) handshake = true;
    else if (awaiting_since_ && now - *awaiting_since_ >= timing_.answer_timeout) {
        handshake = true;  // unanswered: the registry may have lost our session
        awaiting_since_.reset();
    }
    if (handshake) {
        auto msg = start_handshake(now, wall, ephemeral_private);
        if (!msg) return msg.error();
        out.push_back(std::move(*msg));
    }
    conclude_filtering(now);
    if (current_ && (now >= next_keepalive_ || filtering_changed_)) {
        auto msg = registration(now);
        if (!msg) return msg.error();
        out.push_back(std::move(*msg));
        next_keepalive_ = next_keepalive_after(now);
    }
    auto test = filter_test_due(now);
    if (!test) return test.error();
    if (*test) out.push_back(std::move(**test));
    if (current_ && !unasked_.empty()) {
        auto q = queries(unasked_);
        if (!q) return q.error();
        for (auto& m : *q) out.push_back(std::move(m));
        unasked_.clear();
    }
    return out;
}

Result<std::vector<Bytes>> Client::on_response(ByteView d, Time now) {
    auto r = parse_response(d);
    if (!r) return r.error();
    if (!pending_ || r->receiver != pending_->index) return refused("registry response", "not for our pending initiation");
    if (!mac1_valid(d, mac1_self_)) return refused("registry response", "mac1 does not verify");
    if (!std::all_of(d.end() - 16, d.end(), [](uint8_t b) { return b == 0; }))
        return refused("registry response", "mac2 is not zero");
    Pending p = std::move(*pending_);
    pending_.reset();
    auto payload = p.hs.read_message2(r->noise);
    if (!payload) return payload.error();
    auto keys = p.hs.split();
    if (!keys) return keys.error();
    TransportSession s;
    s.local_index = p.index;
    s.remote_index = r->sender;
    s.send_key = keys->initiator_to_responder;
    s.receive_key = keys->responder_to_initiator;
    s.established = now;
    current_ = std::move(s);
    ++handshakes_;
    // Register at once (this also confirms the session to the registry),
    // then ask again for every wanted contact: a new session may be a
    // restarted registry that knows none of our interests.
    std::vector<Bytes> out;
    awaiting_since_.reset();
    auto reg = registration(now);
    if (!reg) return reg.error();
    out.push_back(std::move(*reg));
    next_keepalive_ = next_keepalive_after(now);
    unasked_.clear();
    filter_due_ = true, filter_tries_ = 0;  // a new session may be a restarted registry: ask again
    auto q = queries(wanted_);
    if (!q) return q.error();
    for (auto& m : *q) out.push_back(std::move(m));
    return out;
}

Result<std::vector<Bytes>> Client::on_datagram(ByteView d, Time now) {
    auto result = [&]() -> Result<std::vector<Bytes>> {
        auto type = peek_type(d);
        if (!type) return type.error();
        if (*type == uint8_t(MessageType::response)) return on_response(d, now);
        if (*type == uint8_t(MessageType::cookie_reply)) {
            auto c = parse_cookie_reply(d);
            if (!c) return c.error();
            if (!pending_ || c->receiver != pending_->index) return refused("registry cookie reply", "not for our initiation");
            auto cookie = open_cookie_reply(*c, cookie_remote_, pending_->mac1);
            if (!cookie) return cookie.error();
            cookie_ = *cookie;
            cookie_at_ = now;
            return std::vector<Bytes>{};  // the next retry carries it in mac2
        }
        if (*type != uint8_t(MessageType::transport)) return refused("registry datagram", "not for a registry client");
        auto t = parse_transport(d);
        if (!t) return t.error();
        if (!current_) return refused("registry transport", "no session");
        auto body = current_->open(d, *t);
        if (!body) return body.error();
        auto kind = peek_kind(*body);
        if (!kind) return kind.error();
        if (*kind == BodyKind::registered) {
            auto r = decode_registered(*body);
            if (!r) return r.error();
            observed_ = r->observed;
            awaiting_since_.reset();
            filter_after_registered_ = false;
        } else if (*kind == BodyKind::filter_answer) {
            auto a = decode_filter_answer(*body);
            if (!a) return a.error();
            alternate_ = a->alternate;
            if (filter_sent_ && !filter_answered_) filter_answered_ = now;
        } else if (*kind == BodyKind::filter_probe) {
            // From the registry's own address: its alternate is that one
            // (misconfigured), which says nothing about filtering.
            return refused("registry transport", "a filtering probe from the registry's own address");
        } else if (*kind == BodyKind::contacts) {
            auto c = decode_contacts(*body);
            if (!c) return c.error();
            for (const ContactEntry& e : c->entries)
                if (std::binary_search(wanted_.begin(), wanted_.end(), e.member)) contacts_[e.member] = e;
        } else {
            return refused("registry transport", "a registry sends registered, contacts and filtering answers only");
        }
        last_answer_ = now;
        return std::vector<Bytes>{};
    }();
    if (!result) ++rejected_;
    return result;
}

void Client::retest_filtering() {
    filter_due_ = true, filter_tries_ = 0;
    filter_after_registered_ = true;
    filter_sent_.reset(), filter_answered_.reset();
    probe_seen_ = false;
    filtering_ = Filtering::unknown;  // the old verdict was another NAT's
}

void Client::set_filtering(Filtering f) {
    if (f == filtering_) return;
    filtering_ = f;
    filtering_changed_ = true;
}

// A test once registered (the registry must hold the observed contact the
// probe goes to); an unanswered one again after filter_retry, at most 3
// times a session (a registry too old to know the test never answers).
Result<std::optional<Bytes>> Client::filter_test_due(Time now) {
    if (!current_ || !observed_ || filter_after_registered_) return std::optional<Bytes>{};
    if (filter_sent_ && !filter_answered_ && now - *filter_sent_ >= timing_.filter_retry && filter_tries_ < 3)
        filter_due_ = true;
    if (!filter_due_) return std::optional<Bytes>{};
    auto msg = current_->seal(encode_filter_test());
    if (!msg) return msg.error();
    filter_due_ = false;
    ++filter_tries_;
    filter_sent_ = now, filter_answered_.reset();
    probe_seen_ = false;
    return std::optional<Bytes>{std::move(*msg)};
}

// Strict once the registry said it probed from its alternate and nothing
// came for probe_wait; a registry without an alternate leaves it unknown.
void Client::conclude_filtering(Time now) {
    if (!filter_answered_ || probe_seen_) return;
    if (!alternate_) {
        set_filtering(Filtering::unknown);
        return;
    }
    if (now - *filter_answered_ >= timing_.probe_wait) set_filtering(Filtering::strict);
}

bool Client::try_probe(ByteView d) {
    if (!current_ || !awaiting_probe()) return false;
    auto t = parse_transport(d);
    if (!t || t->receiver != current_->local_index) return false;
    auto body = current_->open(d, *t);
    if (!body) return false;
    auto probe = decode_filter_probe(*body);
    if (!probe) {
        ++rejected_;  // sealed by the registry, yet no probe: count it as the registry's own would be
        return true;
    }
    // Sent to the contact the registry observed: the probe passed the NAT's
    // mapping of the tunnel port, not some other way in.
    if (observed_ && probe->to != *observed_) return true;
    probe_seen_ = true;
    set_filtering(Filtering::permissive);
    return true;
}

}  // namespace avpn::registry
