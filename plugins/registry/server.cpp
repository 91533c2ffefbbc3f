// The registry's transport side: registrations, queries, pushes, expiry.
#include "plugins/registry/server.hpp"

#include <algorithm>

namespace avpn::registry {

using namespace keying;

Result<std::vector<Outgoing>> Server::on_datagram(ByteView d, const Endpoint& from, Time now,
                                                  std::optional<Key32> ephemeral_private) {
    ++counters_.datagrams;
    auto type = peek_type(d);
    if (!type) return reject(counters_.malformed, "registry datagram", type.error().why);
    if (*type == uint8_t(MessageType::initiation)) return on_initiation(d, from, now, ephemeral_private);
    if (*type == uint8_t(MessageType::transport)) return on_transport(d, from, now);
    return reject(counters_.malformed, "registry datagram", "type " + std::to_string(*type) + " is not for a registry");
}

Result<std::vector<Outgoing>> Server::on_transport(ByteView d, const Endpoint& from, Time now) {
    auto t = parse_transport(d);
    if (!t) return reject(counters_.malformed, "registry transport", t.error().why);
    auto it = by_index_.find(t->receiver);
    if (it == by_index_.end()) return reject(counters_.unknown_session, "registry transport", "unknown session index");
    const uint32_t id = it->second;
    Live& live = *members_[id].live;  // an index is in by_index_ only while its session is
    const bool on_next = live.next && live.next->local_index == t->receiver;
    TransportSession& s = on_next ? *live.next : *live.current;
    auto body = s.open(d, *t);
    if (!body) {
        if (body.error().code == kReplayed) ++counters_.replayed;
        else ++counters_.bad_tag;
        return body.error();
    }
    if (on_next) {  // the site's first message on its new session confirms it
        drop_session(live.current);
        live.current = std::move(live.next);
        live.next.reset();
    }
    // The site's budget is spent only by messages it sealed, so a forger
    // who copies its index cannot use it up.
    const double elapsed = std::chrono::duration<double>(now - live.token_time).count();
    if (elapsed > 0) live.tokens = std::min(transport_burst_, live.tokens + elapsed * transport_rate_);
    live.token_time = std::max(live.token_time, now);
    if (live.tokens < 1) return reject(counters_.rate_limited, "registry transport", "the site's message rate is over its limit");
    live.tokens -= 1;

    auto kind = peek_kind(*body);
    if (!kind) return reject(counters_.bad_body, "registry transport", kind.error().why);
    if (*kind == BodyKind::register_contact) return on_register(id, *body, from, now);
    if (*kind == BodyKind::query) return on_query(id, *body, from);
    if (*kind == BodyKind::filter_test) return on_filter_test(id, *body, from);
    return reject(counters_.bad_body, "registry transport", "a registry takes registrations, queries and filtering tests only");
}

Result<std::vector<Outgoing>> Server::on_register(uint32_t id, ByteView body, const Endpoint& from, Time now) {
    auto r = decode_register(body);
    if (!r) return reject(counters_.bad_body, "registration", r.error().why);
    Live& live = *members_[id].live;
    // The contact is where the datagram came from: the key that sealed it
    // is the only one it can be registered for.
    const bool changed = !live.observed || *live.observed != from || live.local != r->local ||
                         live.filtering != r->filtering;
    if (!live.observed) ++registered_;
    live.observed = from;
    live.local = std::move(r->local);
    live.filtering = r->filtering;
    live.last_register = now;
    ++counters_.registrations;
    std::vector<Outgoing> out;
    auto reply = live.current->seal(encode(Registered{from, uint16_t(hold_.count())}));
    if (!reply) return reply.error();
    out.push_back({from, std::move(*reply)});
    if (changed) push_change(id, out);
    return out;
}

ContactEntry Server::entry_of(uint32_t id) const {
    const Member& m = members_[id];
    ContactEntry e;
    e.member = m.key;
    e.state = ContactState::not_registered;
    if (m.live && m.live->observed) {
        e.state = ContactState::registered;
        e.filtering = m.live->filtering;
        e.observed = m.live->observed;
        if (!m.live->local.empty()) e.local = m.live->local.front();
    }
    return e;
}

Result<std::vector<Outgoing>> Server::on_query(uint32_t id, ByteView body, const Endpoint& from) {
    auto q = decode_query(body);
    if (!q) return reject(counters_.bad_body, "query", q.error().why);
    ++counters_.queries;
    Member& asker = members_[id];
    Contacts answer;
    for (const Key32& k : q->members) {
        auto it = by_key_.find(KeyInGroup{k, asker.group});
        if (it == by_key_.end() || it->second == id) {  // another group's, or none: nothing is said about it
            answer.entries.push_back(ContactEntry{k});
            continue;
        }
        const uint32_t other = it->second;
        auto& interests = asker.live->interests;
        if (std::find(interests.begin(), interests.end(), other) == interests.end() &&
            interests.size() < max_interests_) {
            interests.push_back(other);
            members_[other].watchers.push_back(id);
        }
        answer.entries.push_back(entry_of(other));
    }
    auto reply = asker.live->current->seal(encode(answer));
    if (!reply) return reply.error();
    return std::vector<Outgoing>{{from, std::move(*reply)}};
}

// The answer goes back where the test came from; the probe, from the
// alternate address, to the same place: the site's NAT mapping, which
// never sent anything to the alternate. Both are sealed in the site's
// session, so only that site can read them (and a probe cannot be forged
// to make a strict NAT look permissive).
Result<std::vector<Outgoing>> Server::on_filter_test(uint32_t id, ByteView body, const Endpoint& from) {
    if (body.size() != 1) return reject(counters_.bad_body, "filtering test", "a filtering test is its kind byte alone");
    ++counters_.filter_tests;
    TransportSession& s = *members_[id].live->current;
    std::vector<Outgoing> out;
    // An alternate of the other family cannot reach this site: "cannot test".
    std::optional<Endpoint> alternate;
    if (alternate_ && alternate_->addr.family == from.addr.family) alternate = alternate_;
    auto answer = s.seal(encode(FilterAnswer{alternate}));
    if (!answer) return answer.error();
    out.push_back({from, std::move(*answer)});
    if (alternate) {
        auto probe = s.seal(encode(FilterProbe{from}));
        if (!probe) return probe.error();
        out.push_back({from, std::move(*probe), true});
    }
    return out;
}

void Server::push_change(uint32_t id, std::vector<Outgoing>& out) {
    const Bytes body = encode(Contacts{{entry_of(id)}});
    for (uint32_t w : members_[id].watchers) {
        Live* live = members_[w].live.get();
        if (!live || !live->current || !live->observed) continue;
        auto msg = live->current->seal(body);
        if (!msg) continue;
        out.push_back({*live->observed, std::move(*msg)});
        ++counters_.pushes;
    }
}

void Server::forget_interests(uint32_t id) {
    Live& live = *members_[id].live;
    for (uint32_t other : live.interests) std::erase(members_[other].watchers, id);
    live.interests.clear();
    live.interests.shrink_to_fit();
}

std::vector<Outgoing> Server::tick(Time now) {
    std::vector<Outgoing> out;
    for (uint32_t id = 0; id < members_.size(); ++id) {
        Live* live = members_[id].live.get();
        if (!live) continue;
        if (live->current && now - live->current->established >= lifetime_) drop_session(live->current);
        if (live->next && now - live->next->established >= lifetime_) drop_session(live->next);
        if (live->observed && now - live->last_register >= hold_) {
            live->observed.reset();
            live->local.clear();
            --registered_;
            ++counters_.expired;
            push_change(id, out);
        }
        if (!live->current && !live->next && !live->observed) {
            forget_interests(id);
            members_[id].live.reset();
        }
    }
    return out;
}

std::string Server::stats_line() const {
    const ServerCounters& c = counters_;
    std::string s = "registry: members=" + std::to_string(members_.size()) + " registered=" + std::to_string(registered_) +
                    " sessions=" + std::to_string(by_index_.size());
    auto add = [&](const char* name, uint64_t v) { s += std::string(" ") + name + "=" + std::to_string(v); };
    add("datagrams", c.datagrams);
    add("handshakes", c.handshakes);
    add("registrations", c.registrations);
    add("queries", c.queries);
    add("filter_tests", c.filter_tests);
    add("pushes", c.pushes);
    add("expired", c.expired);
    add("malformed", c.malformed);
    add("mac1_invalid", c.mac1_invalid);
    add("cookies_sent", c.cookies_sent);
    add("rate_limited", c.rate_limited);
    add("handshake_failed", c.handshake_failed);
    add("not_member", c.not_member);
    add("handshake_replayed", c.handshake_replayed);
    add("unknown_session", c.unknown_session);
    add("bad_tag", c.bad_tag);
    add("replayed", c.replayed);
    add("bad_body", c.bad_body);
    return s;
}

}  // namespace avpn::registry
