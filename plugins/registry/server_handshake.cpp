// The registry's side of the handshake: Noise IKpsk2 message 1 in, message
// 2 out, as WireGuard's responder (and plugins/keying's), with the group and
// membership checked between the two.
#include <openssl/rand.h>

#include <cstring>

#include "plugins/registry/server.hpp"

namespace avpn::registry {

using namespace keying;

namespace {
constexpr std::string_view kPrologue = "avpn registry v1";
}

size_t Server::KeyHash::operator()(const KeyInGroup& k) const {
    uint64_t h;
    std::memcpy(&h, k.key.data(), sizeof h);  // X25519 public keys are uniformly distributed
    return size_t(h ^ (uint64_t(k.group) * 0x9e3779b97f4a7c15ULL));
}

Result<Server> Server::create(ServerConfig config) {
    Server s;
    auto st = StaticKey::from_private(config.static_private);
    if (!st) return st.error();
    auto m = mac1_key(st->public_key);
    auto c = cookie_key(st->public_key);
    if (!m || !c) return Error{"registry", "", "libcrypto failure"};
    s.static_ = *st;
    s.mac1_key_ = *m;
    s.cookie_key_ = *c;
    if (config.groups.size() > UINT32_MAX) return Error{"registry", "", "too many groups"};
    for (uint32_t g = 0; g < config.groups.size(); ++g) {
        const GroupMembers& gm = config.groups[g];
        if (gm.name.empty() || gm.name.size() > kMaxGroupNameLen)
            return Error{"registry", "group \"" + gm.name + "\"", "a group name is 1-63 characters"};
        for (uint32_t h = 0; h < g; ++h)
            if (s.group_names_[h] == gm.name) return Error{"registry", "group \"" + gm.name + "\"", "given twice"};
        s.group_names_.push_back(gm.name);
        s.group_psks_.emplace_back(gm.psk);
        for (const Key32& k : gm.members) {
            auto [it, fresh] = s.by_key_.emplace(KeyInGroup{k, g}, uint32_t(s.members_.size()));
            if (!fresh) continue;  // the member list loader reports duplicates; one entry is enough here
            Member mem;
            mem.group = g;
            mem.key = k;
            s.members_.push_back(std::move(mem));
        }
    }
    s.limiter_ = RateLimiter(config.handshake_rate);
    s.load_ = LoadMeter(config.under_load_threshold);
    s.transport_rate_ = config.transport_per_second;
    s.transport_burst_ = config.transport_burst;
    s.max_interests_ = config.max_interests;
    s.hold_ = config.hold;
    s.lifetime_ = config.session_lifetime;
    s.alternate_ = config.alternate;
    return s;
}

Error Server::reject(uint64_t& counter, const char* what, std::string why) {
    ++counter;
    return Error{what, "", std::move(why)};
}

Result<uint32_t> Server::new_index() {
    for (int tries = 0; tries < 16; ++tries) {
        uint32_t i = 0;
        if (RAND_bytes(reinterpret_cast<uint8_t*>(&i), sizeof i) != 1) return Error{"registry", "", "no randomness"};
        if (i != 0 && !by_index_.contains(i)) return i;
    }
    return Error{"registry", "", "no free session index"};
}

Result<std::vector<Outgoing>> Server::on_initiation(ByteView d, const Endpoint& from, Time now,
                                                    std::optional<Key32> ephemeral_private) {
    auto init = parse_initiation(d);
    if (!init) return reject(counters_.malformed, "registry initiation", init.error().why);
    if (!mac1_valid(d, mac1_key_))
        return reject(counters_.mac1_invalid, "registry initiation", "mac1 does not verify (not for this registry's key)");
    load_.record(now);
    if (load_.under_load(now)) {
        auto ok = cookies_.mac2_valid(d, from, now);
        if (!ok) return ok.error();
        if (!*ok) {
            auto cookie = cookies_.cookie_for(from, now);
            if (!cookie) return cookie.error();
            auto reply = encode_cookie_reply(init->sender, *cookie, cookie_key_, mac1_of(d));
            if (!reply) return reply.error();
            ++counters_.cookies_sent;
            return std::vector<Outgoing>{{from, std::move(*reply)}};
        }
    }
    if (!limiter_.allow(from.addr, now))
        return reject(counters_.rate_limited, "registry initiation", "rate limit of " + from.addr.str() + " reached");

    auto hs = IkPsk2::responder(static_, view(kPrologue), Secret32{}, ephemeral_private);
    if (!hs) return hs.error();
    auto payload = hs->read_message1(init->noise);
    if (!payload) return reject(counters_.handshake_failed, "registry initiation", payload.error().why);
    auto body = decode_initiation_payload(*payload);
    crypto::wipe(payload->data(), payload->size());
    if (!body) return reject(counters_.handshake_failed, "registry initiation", body.error().why);

    uint32_t group = 0;
    while (group < group_names_.size() && group_names_[group] != body->group) ++group;
    auto it = group < group_names_.size() ? by_key_.find(KeyInGroup{hs->remote_static(), group}) : by_key_.end();
    if (it == by_key_.end())
        return reject(counters_.not_member, "registry initiation",
                      crypto::base64_encode(hs->remote_static().data(), 32) + " is not a member of group \"" +
                          body->group + "\" here");
    const uint32_t id = it->second;
    Member& m = members_[id];
    if (m.last_timestamp && !(body->timestamp > *m.last_timestamp))
        return reject(counters_.handshake_replayed, "registry initiation",
                      "replayed or stale: timestamp not newer than the site's last");

    if (auto st = hs->set_psk(group_psks_[group]); !st) return st.error();
    auto noise = hs->write_message2({});
    if (!noise) return noise.error();
    auto index = new_index();
    if (!index) return index.error();
    auto site_mac1 = mac1_key(m.key);
    if (!site_mac1) return site_mac1.error();
    auto reply = encode_response(*index, init->sender, *noise, *site_mac1);
    if (!reply) return reply.error();
    auto keys = hs->split();
    if (!keys) return keys.error();

    m.last_timestamp = body->timestamp;
    if (!m.live) m.live = std::make_unique<Live>(Live{.tokens = transport_burst_, .token_time = now});
    drop_session(m.live->next);
    TransportSession& s = m.live->next.emplace();
    s.local_index = *index;
    s.remote_index = init->sender;
    s.send_key = keys->responder_to_initiator;
    s.receive_key = keys->initiator_to_responder;
    s.established = now;
    by_index_[*index] = id;
    ++counters_.handshakes;
    return std::vector<Outgoing>{{from, std::move(*reply)}};
}

void Server::drop_session(std::optional<TransportSession>& s) {
    if (!s) return;
    by_index_.erase(s->local_index);
    s.reset();
}

}  // namespace avpn::registry
