#include "orchestrator/runtime/xfrm_keying.hpp"

#include <openssl/rand.h>

#include "plugins/wireguard/keys.hpp"

namespace avpn::runtime {

using namespace keying;

namespace {

uint64_t key_id(uint32_t index, bool outbound) { return uint64_t(index) << 1 | (outbound ? 1 : 0); }

// How long a dead peer has been silent, for status: since its last
// authenticated message, or since this avpnd began to handshake with it.
template <class Peer>
std::string silence(const Peer& p, Time now) {
    const Time since = p.session.last_received().value_or(p.watched_since.value_or(now));
    return "no answer for " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - since).count()) +
           " s";
}

}  // namespace

void XfrmKeying::Work::merge(Work&& o) {
    apply |= o.apply;
    for (auto& s : o.sends) sends.push_back(std::move(s));
    for (auto& e : o.events) events.push_back(std::move(e));
}

XfrmKeying::Group* XfrmKeying::group_named(const std::string& name, uint8_t path) {
    for (Group& g : groups_)
        if (g.name == name && g.path == path) return &g;
    return nullptr;
}

std::string XfrmKeying::who(const Group& g, const std::string& peer) {
    return g.name + "/" + peer + (g.path ? " (path " + std::to_string(g.path) + ")" : "");
}

namespace {
// The handshake's group binding (its prologue, docs/xfrm-keying.md): path i
// >= 1 binds "<group>/<i>" ('/' is in no group name), so a handshake made
// for one path does not complete on another and replace its session.
std::string bound_group(const planner::KeyingGroupView& v) {
    return v.path ? v.group + "/" + std::to_string(v.path) : v.group;
}
}  // namespace

XfrmKeying::Peer* XfrmKeying::peer_of(Group& g, const Key32& key) {
    auto it = g.by_key.find(key);
    return it == g.by_key.end() ? nullptr : &g.peers[it->second];
}

// Session indexes start at a random point, so a restarted avpnd's indexes
// do not meet the ones its peers still hold from before; 0 is never used.
uint32_t XfrmKeying::new_index() {
    if (last_index_ == 0 && RAND_bytes(reinterpret_cast<unsigned char*>(&last_index_), sizeof last_index_) != 1)
        last_index_ = 0x1000;
    do ++last_index_;
    while (last_index_ == 0 || live_.count(last_index_));
    return last_index_;
}

Errors XfrmKeying::configure(const std::vector<planner::KeyingGroupView>& views) {
    Errors errors;
    std::vector<Group> next;
    for (const planner::KeyingGroupView& v : views) {
        auto secret = wg::read_private_key_file(v.key_file);
        if (!secret) {
            errors.push_back(Error{"XFRM key exchange", v.group, secret.error().str()});
            continue;
        }
        auto own = StaticKey::from_private(secret->bytes());
        if (!own) {
            errors.push_back(Error{"XFRM key exchange", v.group, own.error().str()});
            continue;
        }
        Group* old = group_named(v.group, v.path);
        const bool same_key = old && old->static_public == own->public_key;
        Group g;
        g.name = v.group;
        g.path = v.path;
        g.key_file = v.key_file;
        g.if_id = v.if_id;
        g.static_public = own->public_key;
        if (same_key && old->responder) {
            g.responder = std::move(old->responder);
        } else {
            ResponderConfig rc;
            rc.static_private = own->private_key.get();
            rc.group = bound_group(v);
            const std::string name = v.group;
            const uint8_t path = v.path;
            auto r = Responder::create(std::move(rc),
                                       [this, name, path](const Key32& peer) { return choose(name, path, peer); });
            if (!r) {
                errors.push_back(Error{"XFRM key exchange", v.group, r.error().str()});
                continue;
            }
            g.responder = std::move(*r);
        }
        for (const planner::KeyingPeerView& pv : v.peers) {
            auto pub = crypto::base64_decode_key(pv.public_key);
            if (!pub) {
                errors.push_back(Error{"XFRM key exchange", v.group + "/" + pv.name, pub.error().str()});
                continue;
            }
            Peer* kept = same_key ? peer_of(*old, *pub) : nullptr;
            if (kept && kept->view.name == pv.name && kept->view.inbound_spis == pv.inbound_spis) {
                kept->view = pv;
                g.by_key[*pub] = g.peers.size();
                g.peers.push_back(std::move(*kept));
                continue;
            }
            InitiatorConfig ic;
            ic.static_private = own->private_key.get();
            ic.responder_public = *pub;
            ic.group = bound_group(v);
            auto init = Initiator::create(std::move(ic));
            if (!init) {
                errors.push_back(Error{"XFRM key exchange", v.group + "/" + pv.name, init.error().str()});
                continue;
            }
            // The lower static key leads rotations and wins simultaneous handshakes.
            Peer p{pv, *pub, std::move(*init), PeerSession(timers_, own->public_key < *pub, pv.inbound_spis), 0, {}};
            g.by_key[*pub] = g.peers.size();
            g.peers.push_back(std::move(p));
        }
        next.push_back(std::move(g));
    }
    groups_ = std::move(next);
    // Sessions of peers that are gone (or re-keyed from scratch) go with them.
    for (auto it = live_.begin(); it != live_.end();) {
        Group* g = group_named(it->second.group, it->second.path);
        Peer* p = g ? peer_of(*g, it->second.session.peer_static) : nullptr;
        bool held = false;
        if (p)
            for (const SaHalf& in : p->session.sas().inbound) held |= in.key_id == key_id(it->first, false);
        if (p && (held || p->session.sas().outbound)) {
            ++it;
            continue;
        }
        keys_.erase(key_id(it->first, false));
        keys_.erase(key_id(it->first, true));
        it = live_.erase(it);
    }
    return errors;
}

void XfrmKeying::add_inputs(PlanInputs& inputs) const {
    inputs.xfrm_handshake = true;
    for (const Group& g : groups_)
        for (const Peer& p : g.peers) {
            XfrmSessionSas s;
            for (const SaHalf& in : p.session.sas().inbound) s.inbound.push_back({in.spi, in.key_id});
            if (const auto& out = p.session.sas().outbound) s.outbound = SessionSa{out->spi, out->key_id};
            if (g.path) {  // a path's silence kills nothing (planner.hpp)
                const PlanInputs::PathKey key{g.name, p.view.name, g.path};
                inputs.xfrm_path_sessions[key] = std::move(s);
                if (p.roamed) inputs.path_roamed[key] = *p.roamed;
                continue;
            }
            inputs.xfrm_sessions[{g.name, p.view.name}] = std::move(s);
            if (p.dead) inputs.dead_peers.insert({g.name, p.view.name});
            if (p.roamed) inputs.roamed[{g.name, p.view.name}] = *p.roamed;
        }
}

Result<std::vector<uint8_t>> XfrmKeying::key(uint64_t id, uint32_t key_bits, bool new_sa) {
    auto it = keys_.find(id);
    if (it == keys_.end())
        return Error{"ESP key", "session " + std::to_string(id >> 1), "no such key (the session is gone)"};
    const auto& bytes = it->second.get();
    if (key_bits / 8 != bytes.size())
        return Error{"ESP key", "session " + std::to_string(id >> 1),
                     "the handshake made " + std::to_string(bytes.size() * 8) + "-bit keys, the SA wants " +
                         std::to_string(key_bits)};
    if (new_sa && !installed_.insert(id).second) {
        reused_.insert(id);
        return Error{"ESP key", "session " + std::to_string(id >> 1),
                     "already went into an SA that is gone: a new SA with it would repeat sequence numbers "
                     "(AES-GCM nonces) and reopen the replay window; the session is dropped and the peer "
                     "handshakes anew"};
    }
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

Result<LocalChoice> XfrmKeying::choose(const std::string& group, uint8_t path, const Key32& peer) {
    Group* g = group_named(group, path);
    Peer* p = g ? peer_of(*g, peer) : nullptr;
    if (!p)
        return Error{"initiation", group + (path ? " path " + std::to_string(path) : ""),
                     "the key is not one of this site's peers in the group" +
                         std::string(path ? " on this path" : "")};
    if (!p->session.accepts_initiation())
        return Error{"initiation", who(*g, p->view.name), "this site's own handshake with it leads"};
    return LocalChoice{new_index(), p->session.inbound_spi_for_response(), p->session.epoch() + 1};
}

NewSession XfrmKeying::hold(Group& g, Peer& p, Session&& s) {
    const uint32_t index = s.local_index;
    keys_[key_id(index, false)] = s.esp_inbound_key;
    keys_[key_id(index, true)] = s.esp_outbound_key;
    NewSession ns{index, {s.inbound_spi, key_id(index, false)}, {s.outbound_spi, key_id(index, true)}};
    live_[index] = Live{g.name, g.path, p.view.name, std::move(s)};
    return ns;
}

void XfrmKeying::drop(uint64_t session_id) {
    const uint32_t index = uint32_t(session_id);
    live_.erase(index);
    keys_.erase(key_id(index, false));
    keys_.erase(key_id(index, true));
    for (bool outbound : {false, true}) {
        installed_.erase(key_id(index, outbound));
        reused_.erase(key_id(index, outbound));
    }
}

// Dead: not up, and either it was up once (PeerSession heard nothing for
// dead_after and said peer_down) or it has not answered for dead_after since
// this avpnd began to handshake with it. A peer not yet reached at startup
// is given that time: calling it dead at once would move routes off a hub
// that simply has not answered its first initiation yet. A change re-plans,
// as the relay rule routes around a dead hub (docs/planner.md, "Dead hubs").
void XfrmKeying::note_liveness(const Group& g, Peer& p, Time now, Work& out) {
    if (!p.watched_since) p.watched_since = now;
    const bool dead =
        !p.session.up() && (p.session.epoch() > 0 || now - *p.watched_since >= timers_.dead_after);
    if (dead == p.dead) return;
    p.dead = dead;
    out.apply = true;
    if (dead && p.session.epoch() == 0)  // peer_down reported the others
        out.events.push_back(who(g, p.view.name) + ": down (never answered since avpnd started)");
}

void XfrmKeying::carry_out(Group& g, Peer& p, const std::vector<Action>& actions, Time now,
                           const std::optional<Send>& response, Work& out) {
    const std::string who = XfrmKeying::who(g, p.view.name);
    auto send_to_peer = [&](Bytes bytes, const char* what) {
        const std::optional<Endpoint>& to = p.roamed ? p.roamed : p.view.endpoint;
        if (!to) {
            p.problem = std::string("no contact to send the ") + what + " to";
            return;
        }
        out.sends.push_back({g.name, *to, std::move(bytes), g.path});
    };
    for (const Action& a : actions) {
        switch (a.kind) {
        case ActionKind::apply: out.apply = true; break;
        case ActionKind::send_initiation: {
            LocalChoice c{new_index(), a.spi, p.session.epoch() + 1};
            const auto t0 = std::chrono::steady_clock::now();
            auto bytes = p.initiator->start(c, wall_(), now);
            const auto cost = std::chrono::steady_clock::now() - t0;
            cost_spent_ += cost;
            cost_each_ = cost_each_.count() == 0 ? cost : (cost_each_ * 7 + cost) / 8;
            if (!bytes) {
                p.problem = bytes.error().str();
                break;
            }
            p.pending_index = c.index;
            send_to_peer(std::move(*bytes), "initiation");
            break;
        }
        case ActionKind::send_response:
            if (response) out.sends.push_back(*response);
            break;
        case ActionKind::send_confirm:
        case ActionKind::send_keepalive: {
            auto it = live_.find(uint32_t(a.session_id));
            if (it == live_.end()) break;
            auto bytes = make_confirm(it->second.session);
            if (bytes) send_to_peer(std::move(*bytes), "key confirm");
            break;
        }
        case ActionKind::drop_session: drop(a.session_id); break;
        case ActionKind::peer_up:
            p.problem.clear();
            out.events.push_back(who + ": up, epoch " + std::to_string(p.session.epoch()));
            break;
        case ActionKind::peer_down: out.events.push_back(who + ": down (no authenticated message from it)"); break;
        }
    }
    note_liveness(g, p, now, out);
}

XfrmKeying::Work XfrmKeying::receive(const std::string& group, uint8_t path, const Endpoint& from, ByteView d,
                                     Time now) {
    Group* g = group_named(group, path);
    auto type = peek_type(d);
    if (!g || !type) {
        ++rejected_;
        return {};
    }
    switch (MessageType(*type)) {
    case MessageType::initiation: return on_initiation(*g, from, d, now);
    case MessageType::response: return on_response(*g, from, d, now);
    case MessageType::cookie_reply: return on_cookie(*g, d, now);
    case MessageType::key_confirm: return on_confirm(*g, from, d, now);
    }
    ++rejected_;  // a type of the discovery range: nothing reads those yet
    return {};
}

XfrmKeying::Work XfrmKeying::on_initiation(Group& g, const Endpoint& from, ByteView d, Time now) {
    Work out;
    auto r = g.responder->consume(d, from, now);
    if (!r) {
        reject(g, from, r.error());
        return out;
    }
    Send reply{g.name, from, std::move(r->reply), g.path};
    if (!r->session) {  // a cookie reply: no state, nothing to apply
        out.sends.push_back(std::move(reply));
        return out;
    }
    Peer* p = peer_of(g, r->session->peer_static);
    if (!p) {  // choose() vouched for it a moment ago
        ++rejected_;
        return out;
    }
    NewSession ns = hold(g, *p, std::move(*r->session));
    auto actions = p->session.on_initiation(ns, now);
    if (actions.empty()) drop(ns.session_id);  // a leader's own handshake won meanwhile
    note_source(g, *p, from, out);
    carry_out(g, *p, actions, now, reply, out);
    return out;
}

void XfrmKeying::note_source(const Group& g, Peer& p, const Endpoint& from, Work& out) {
    const std::optional<Endpoint>& at = p.roamed ? p.roamed : p.view.endpoint;
    if (at == from) return;
    out.events.push_back(who(g, p.view.name) + ": roamed from " + (at ? at->str() : std::string("no contact")) +
                         " to " + from.str());
    p.roamed = from;
    out.apply = true;  // its SAs' outer destination
}

// A rejected initiation is counted and its reason kept for status. From
// the contact of a peer that is not up it is also that peer's problem: the
// likely reason why it is not (a key that is not the member list's, a clock
// gone backwards), which the peer's own side cannot see.
void XfrmKeying::reject(Group& g, const Endpoint& from, const Error& why) {
    ++rejected_;
    const std::string reason = why.why.empty() ? why.str() : why.why;
    last_rejected_ = g.name + (g.path ? " path " + std::to_string(g.path) : "") + ": initiation from " + from.str() +
                     ": " + reason;
    for (Peer& p : g.peers)
        if (p.view.endpoint == from && !p.session.up()) p.problem = "its initiation was rejected: " + reason;
}

XfrmKeying::Work XfrmKeying::on_response(Group& g, const Endpoint& from, ByteView d, Time now) {
    Work out;
    auto parsed = parse_response(d);
    Peer* p = nullptr;
    if (parsed)
        for (Peer& q : g.peers)
            if (q.pending_index != 0 && q.pending_index == parsed->receiver) p = &q;
    if (!p) {
        ++rejected_;
        return out;
    }
    auto s = p->initiator->finish(d);
    if (!s) {
        p->problem = "response rejected: " + s.error().str();
        last_rejected_ = who(g, p->view.name) + ": response rejected: " + s.error().str();
        ++rejected_;
        return out;
    }
    p->pending_index = 0;
    NewSession ns = hold(g, *p, std::move(*s));
    auto actions = p->session.on_response(ns, now);
    if (actions.empty()) drop(ns.session_id);  // not the answer to the handshake in flight
    note_source(g, *p, from, out);
    carry_out(g, *p, actions, now, std::nullopt, out);
    return out;
}

XfrmKeying::Work XfrmKeying::on_cookie(Group& g, ByteView d, Time now) {
    auto parsed = parse_cookie_reply(d);
    if (parsed)
        for (Peer& p : g.peers)
            if (p.pending_index != 0 && p.pending_index == parsed->receiver) {
                // Taken for the next retry, which the session's timer sends.
                if (Status s = p.initiator->take_cookie(d, now); !s) p.problem = "cookie reply: " + s.error().str();
                return {};
            }
    ++rejected_;
    return {};
}

XfrmKeying::Work XfrmKeying::on_confirm(Group& g, const Endpoint& from, ByteView d, Time now) {
    Work out;
    auto parsed = parse_key_confirm(d);
    auto it = parsed ? live_.find(parsed->receiver) : live_.end();
    if (it == live_.end() || it->second.group != g.name || it->second.path != g.path) {
        ++rejected_;
        return out;
    }
    Live& l = it->second;
    // Each counter once (check_confirm keeps the highest): a replayed
    // confirm or keepalive proves nothing.
    if (!check_confirm(l.session, d)) {
        last_rejected_ = who(g, l.peer) + ": a key confirm or keepalive replayed or not authentic";
        ++rejected_;
        return out;
    }
    Peer* p = peer_of(g, l.session.peer_static);
    if (!p) return out;
    note_source(g, *p, from, out);
    carry_out(g, *p, p->session.on_transport(it->first, now), now, std::nullopt, out);
    return out;
}

XfrmKeying::Work XfrmKeying::announce(Time now) {
    Work out;
    for (Group& g : groups_)
        for (Peer& p : g.peers)
            if (auto id = p.session.current_session())
                carry_out(g, p, {{ActionKind::send_keepalive, *id}}, now, std::nullopt, out);
    return out;
}

XfrmKeying::Work XfrmKeying::tick(Time now, bool answering_first) {
    Work out = drop_reused(now);
    std::vector<std::pair<Group*, Peer*>> peers;
    for (Group& g : groups_)
        for (Peer& p : g.peers) peers.emplace_back(&g, &p);
    if (tick_from_ >= peers.size()) tick_from_ = 0;
    // The budget goes first to peers whose session is up (a rotation, a
    // forced rekey: their traffic flows and a late rotation only ages its
    // keys), then to the rest (first handshakes, retries to silent peers),
    // each class in turn order from tick_from_. Without that, a hub with
    // thousands of dead spokes would spend every initiation on retries and
    // let the live ones' rotations wait behind them.
    // Only what the budget granted: a peer whose initiation is not due yet
    // may become due inside its own tick (found dead there), and would
    // otherwise initiate unpaced; it waits for the next tick instead.
    std::vector<char> may(peers.size(), 0);
    std::optional<size_t> first_waiting;
    // Besides the pace, a CPU budget: as many as the time left in this
    // second allows at the running mean cost of one (on a slow CPU the
    // pace alone would spend it all on initiations and none on answers).
    if (now - cost_window_ >= std::chrono::seconds(1)) cost_window_ = now, cost_spent_ = {};
    std::chrono::nanoseconds planned = cost_spent_;
    for (const bool live : {true, false})
        for (size_t i = 0; i < peers.size(); ++i) {
            const size_t k = (tick_from_ + i) % peers.size();
            const keying::PeerSession& s = peers[k].second->session;
            if (s.up() != live || !s.initiation_due(now)) continue;
            // Nowhere to send it (a spoke known only by what it sends: no
            // contact, not heard yet; path i >= 1 at the end that answers):
            // an initiation that never leaves would count as in flight,
            // and a leader's would turn the peer's own away.
            const Peer& peer = *peers[k].second;
            if (!peer.roamed && !peer.view.endpoint) continue;
            may[k] = !answering_first && planned < initiation_budget_ && initiations_.allow(IpAddr{}, now);
            if (may[k]) planned += cost_each_;
            if (!may[k] && !first_waiting) first_waiting = k;
        }
    for (size_t i = 0; i < peers.size(); ++i) {
        const size_t k = (tick_from_ + i) % peers.size();
        auto [g, p] = peers[k];
        carry_out(*g, *p, p->session.tick(now, may[k]), now, std::nullopt, out);
    }
    tick_from_ = first_waiting.value_or(tick_from_);
    return out;
}

std::vector<XfrmKeying::PeerStatus> XfrmKeying::status(Time now) const {
    std::vector<PeerStatus> out;
    for (const Group& g : groups_)
        for (const Peer& p : g.peers) {
            PeerStatus s;
            s.group = g.name;
            s.peer = p.view.name;
            s.path = g.path;
            s.up = p.session.up();
            s.epoch = p.session.epoch();
            if (auto t = p.session.last_handshake())
                s.handshake_age_s = std::chrono::duration_cast<std::chrono::seconds>(now - *t).count();
            if (auto t = p.session.next_rekey())
                s.next_rekey_in_s = std::chrono::duration_cast<std::chrono::seconds>(*t - now).count();
            s.initiations_unanswered = p.session.initiations_unanswered();
            s.problem = p.problem;
            if (s.problem.empty() && !s.up && s.initiations_unanswered > 1)
                s.problem = std::to_string(s.initiations_unanswered) + " initiations unanswered";
            if (p.dead) s.problem = silence(p, now) + (s.problem.empty() ? "" : "; " + s.problem);
            out.push_back(std::move(s));
        }
    return out;
}

}  // namespace avpn::runtime
