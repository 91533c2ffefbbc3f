#include "orchestrator/runtime/registry_clients.hpp"

#include <algorithm>
#include <random>

#include "common/crypto.hpp"
#include "plugins/keying/noise_primitives.hpp"
#include "plugins/wireguard/keys.hpp"

namespace avpn::runtime {

namespace {

bool names_hub(const Member& m, const std::string& hub) {
    return std::any_of(m.hubs.begin(), m.hubs.end(), [&](const HubRef& h) { return h.name == hub; });
}


// Whose contacts a site asks for: the members it peers with (the planner's
// topology: a spoke its hubs, a hub every hub and the spokes that chose it),
// and with shortcuts (docs/shortcuts.md) a spoke also every other spoke (the
// shortcut watch's candidates).
bool peers_with(const Intent& intent, const Group& g, const Member& m) {
    if (m.role == Role::off) return false;
    if (intent.site.role == Role::spoke) {
        if (g.shortcuts && g.transport == Transport::wireguard && m.role == Role::spoke) return true;
        return std::any_of(g.hubs.begin(), g.hubs.end(), [&](const HubRef& h) { return h.name == m.name; });
    }
    return m.role == Role::hub || names_hub(m, intent.site.name);
}

}  // namespace

std::vector<RegistryGroupView> registry_views(const Intent& intent, const std::map<std::string, IpAddr>& uplink_addresses) {
    std::vector<RegistryGroupView> views;
    if (intent.site.role == Role::off) return views;
    for (const Group& g : intent.groups) {
        if (g.registries.empty()) continue;
        RegistryGroupView v;
        v.group = g.name;
        v.self = intent.site.name;
        v.xfrm = g.transport == Transport::xfrm;
        v.listen_port = g.listen_port;
        v.key_file = intent.site.key_file;
        v.group_key_file = g.group_key_file;
        v.registries = g.registries;
        for (const Member& m : g.members)
            if (!m.contact && peers_with(intent, g, m)) v.wanted.emplace_back(m.name, m.public_key);
        v.learn_own = !g.self_contact && intent.site.nat.mode != NatMode::manual;
        v.contact_hold = g.contact_hold;
        for (const Uplink& u : intent.site.uplinks)
            if (auto a = uplink_addresses.find(u.interface); a != uplink_addresses.end())
                v.local.push_back(Endpoint{a->second, g.listen_port});
        views.push_back(std::move(v));
    }
    return views;
}

const RegistryGroupView* RegistryClients::view(const std::string& group) const {
    for (const RegistryGroupView& v : views_)
        if (v.group == group) return &v;
    return nullptr;
}

Errors RegistryClients::configure(const std::vector<RegistryGroupView>& views, Time now) {
    Errors errors;
    std::vector<Entry> next;
    std::random_device seed;
    for (const RegistryGroupView& v : views) {
        auto site = wg::read_private_key_file(v.key_file);
        auto group_key = wg::read_private_key_file(v.group_key_file);
        if (!site || !group_key) {
            errors.push_back(Error{"registry client", v.group, (!site ? site : group_key).error().str()});
            continue;
        }
        // The keys a client was made from, so a changed key file makes a new
        // one; a hash, not the secrets, is what stays in memory.
        auto digest = keying::blake2s({site->bytes(), group_key->bytes()});
        const std::string keys = digest ? std::string(digest->begin(), digest->end()) : std::string();
        std::vector<Key32> wanted;
        Wanted& decoded = wanted_[v.group] = {};
        for (const auto& [name, key] : v.wanted)
            if (auto k = crypto::base64_decode_key(key)) {
                wanted.push_back(*k);
                decoded.members.emplace_back(name, *k);
                decoded.names.insert(name);
            }
        for (const RegistryPin& pin : v.registries) {
            auto old = std::find_if(clients_.begin(), clients_.end(), [&](const Entry& e) {
                return e.group == v.group && e.pin == pin && e.keys == keys && e.client;
            });
            if (old != clients_.end()) {
                old->client->want(wanted);
                old->client->set_local(v.local);
                next.push_back(std::move(*old));
                continue;
            }
            registry::ClientConfig c;
            std::copy(site->bytes().begin(), site->bytes().end(), c.site_private.begin());
            std::copy(group_key->bytes().begin(), group_key->bytes().end(), c.psk.begin());
            auto registry_key = crypto::base64_decode_key(pin.public_key);
            if (!registry_key) {
                errors.push_back(Error{"registry client", pin.loc.str(), "the registry's public_key is not a key"});
                continue;
            }
            c.registry_public = *registry_key;
            c.group = v.group;
            c.local = v.local;
            c.seed = seed();
            auto client = registry::Client::create(std::move(c));
            if (!client) {
                errors.push_back(Error{"registry client", v.group + " " + pin.endpoint.str(), client.error().str()});
                continue;
            }
            Entry e{v.group, pin, std::make_unique<registry::Client>(std::move(*client)), false, keys};
            e.client->want(wanted);
            next.push_back(std::move(e));
        }
    }
    clients_ = std::move(next);
    views_ = views;
    for (auto it = wanted_.begin(); it != wanted_.end();)
        it = view(it->first) ? std::next(it) : wanted_.erase(it);
    update(now);
    return errors;
}

std::vector<RegistryClients::Send> RegistryClients::tick(Time now) {
    std::vector<Send> sends;
    const keying::Tai64n wall = wall_();
    for (Entry& e : clients_) {
        auto due = e.client->tick(now, wall);
        if (!due) {
            events_.push_back("registry " + e.pin.endpoint.str() + " (" + e.group + "): " + due.error().str());
            continue;
        }
        for (Bytes& b : *due) sends.push_back(Send{e.group, e.pin.endpoint, std::move(b)});
    }
    update(now);
    return sends;
}

bool RegistryClients::receive(const std::string& group, const Endpoint& from, ByteView bytes, Time now,
                              std::vector<Send>& sends) {
    for (Entry& e : clients_) {
        if (e.group != group || e.pin.endpoint != from) continue;
        // The client counts what it rejects (rejected()); nothing is answered.
        if (auto answer = e.client->on_datagram(bytes, now))
            for (Bytes& b : *answer) sends.push_back(Send{e.group, e.pin.endpoint, std::move(b)});
        update(now);
        return true;
    }
    // A filtering probe comes from a registry's alternate address, which
    // the site never sent to: the client whose session opens it takes it.
    for (Entry& e : clients_)
        if (e.group == group && e.client->awaiting_probe() && e.client->try_probe(bytes)) {
            update(now);
            return true;
        }
    ++strangers_;
    return false;
}

std::vector<RegistryClients::Send> RegistryClients::register_now(Time now) {
    std::vector<Send> sends;
    for (Entry& e : clients_)
        if (e.client->has_session())
            if (auto b = e.client->register_now(now)) sends.push_back(Send{e.group, e.pin.endpoint, std::move(*b)});
    return sends;
}

std::vector<RegistryClients::Send> RegistryClients::follow_uplink(const std::string& uplink,
                                                                  const std::optional<IpAddr>& address, Time now) {
    if (uplink == uplink_ && address == uplink_address_) return {};
    uplink_ = uplink;
    uplink_address_ = address;
    uplink_since_ = now;
    for (Entry& e : clients_) e.client->retest_filtering();
    return register_now(now);
}

// Recomputes the contacts and the NAT types from the clients, keeping a
// learned contact no reachable registry confirms for the group's hold.
void RegistryClients::update(Time now) {
    std::map<ContactKey, Endpoint> next;
    std::map<std::string, std::string> nat;
    for (Entry& e : clients_) {
        const bool reachable = e.client->reachable(now);
        if (reachable != e.was_reachable)
            events_.push_back("registry " + e.pin.endpoint.str() + " (" + e.group + "): " +
                              (reachable ? "reachable" : "unreachable"));
        e.was_reachable = reachable;
    }
    for (const RegistryGroupView& v : views_) {
        std::vector<const Entry*> live;
        for (const Entry& e : clients_)
            if (e.group == v.group && e.client->reachable(now)) live.push_back(&e);
        for (const auto& [name, member] : wanted_[v.group].members) {
            const ContactKey key{v.group, name};
            for (const Entry* e : live) {
                auto c = e->client->contacts().find(member);
                if (c == e->client->contacts().end() || c->second.state != registry::ContactState::registered ||
                    !c->second.observed)
                    continue;
                // Behind the same public address as this site: its LAN contact.
                const auto& own = e->client->observed();
                const bool same_nat = own && own->addr == c->second.observed->addr && c->second.local;
                learned_[key] = Learned{same_nat ? *c->second.local : *c->second.observed, now, same_nat};
                break;
            }
        }
        for (const Entry* e : live)
            if (e->client->observed()) {
                if (v.learn_own) learned_[{v.group, v.self}] = Learned{*e->client->observed(), now};
                break;
            }
    }
    for (const RegistryGroupView& v : views_) {
        nat[v.group] = nat_type(v.group, now);
        if (nat[v.group] != "unknown") tested_[{v.group, uplink_}] = {nat[v.group], filtering(v.group, now)};
    }
    for (auto it = tested_.begin(); it != tested_.end();)
        it = view(it->first.first) ? std::next(it) : tested_.erase(it);
    // Contacts of groups or members no longer configured go at once; the
    // rest after their hold without confirmation.
    for (auto it = learned_.begin(); it != learned_.end();) {
        const RegistryGroupView* v = view(it->first.first);
        auto w = wanted_.find(it->first.first);
        bool wanted = v && ((v->learn_own && it->first.second == v->self) ||
                            (w != wanted_.end() && w->second.names.count(it->first.second)));
        if (!wanted || now - it->second.confirmed > v->contact_hold) {
            if (wanted) events_.push_back("registry: contact of " + it->first.second + " (" + it->first.first +
                                          ") dropped: not confirmed by any registry for the contact hold");
            it = learned_.erase(it);
            continue;
        }
        next[it->first] = it->second.contact;
        ++it;
    }
    for (const auto& [key, contact] : next) {
        auto old = contacts_.find(key);
        if (old == contacts_.end() || old->second != contact)
            events_.push_back("registry: contact of " + key.second + " (" + key.first + ") " + contact.str() +
                              (old == contacts_.end() ? "" : ", was " + old->second.str()));
    }
    // Logged when it changes, but not the "unknown" of a new uplink's test
    // under way (its verdict follows within a round trip).
    for (auto& [group, type] : nat) {
        const std::string now_seen = uplink_ + "/" + type;
        auto old = nat_.find(group);
        const bool changed = old == nat_.end() || old->second != now_seen;
        const bool same_uplink = old != nat_.end() && old->second.rfind(uplink_ + "/", 0) == 0;
        if (changed && (type != "unknown" || same_uplink))
            events_.push_back("registry: NAT type of group " + group + "'s port" +
                              (uplink_.empty() ? "" : " on " + uplink_) + ": " + type);
        type = now_seen;
    }
    // Filtering: its verdicts, not the "unknown" of a test under way.
    for (const RegistryGroupView& v : views_) {
        const std::string f = filtering(v.group, now);
        std::string& logged = filtering_logged_[v.group];
        if (f == "unknown" || logged == uplink_ + "/" + f) continue;
        logged = uplink_ + "/" + f;
        events_.push_back("registry: filtering of group " + v.group + "'s NAT" + (uplink_.empty() ? "" : " on " + uplink_) +
                          ": " + f);
    }
    if (next != contacts_) changed_ = true;
    contacts_ = std::move(next);
    nat_ = std::move(nat);
}

std::vector<RegistryClients::RegistryStatus> RegistryClients::status(Time now) const {
    std::vector<RegistryStatus> out;
    for (const Entry& e : clients_) {
        RegistryStatus s;
        s.group = e.group;
        s.endpoint = e.pin.endpoint;
        s.reachable = e.client->reachable(now);
        if (auto at = e.client->last_answer())
            s.last_answer_age = std::chrono::duration_cast<std::chrono::milliseconds>(now - *at);
        s.observed = e.client->observed();
        s.handshakes = e.client->handshakes();
        s.rejected = e.client->rejected();
        out.push_back(std::move(s));
    }
    return out;
}

// From the clients as they are at `now` (status asks between ticks, and must
// not show a registry unreachable beside a type it no longer supports), and
// from answers since the uplink took the tunnels only: one registry's
// answer through the old uplink and one through the new would read as a
// mapping that depends on the destination.
std::string RegistryClients::nat_type(const std::string& group, Time now) const {
    std::vector<Endpoint> seen;
    for (const Entry& e : clients_) {
        const auto answered = e.client->last_answer();
        if (e.group == group && e.client->reachable(now) && e.client->observed() && answered &&
            *answered >= uplink_since_)
            seen.push_back(*e.client->observed());
    }
    if (seen.size() < 2) return "unknown";
    return std::all_of(seen.begin(), seen.end(), [&](const Endpoint& s) { return s == seen[0]; }) ? "friendly"
                                                                                               : "unfriendly";
}

std::string RegistryClients::peer_nat_type(const std::string& group, const std::string& site, Time now) const {
    auto w = wanted_.find(group);
    if (w == wanted_.end()) return "unknown";
    auto member = std::find_if(w->second.members.begin(), w->second.members.end(),
                               [&](const auto& m) { return m.first == site; });
    if (member == w->second.members.end()) return "unknown";
    std::vector<Endpoint> seen;
    for (const Entry& e : clients_) {
        if (e.group != group || !e.client->reachable(now)) continue;
        auto c = e.client->contacts().find(member->second);
        if (c != e.client->contacts().end() && c->second.state == registry::ContactState::registered &&
            c->second.observed)
            seen.push_back(*c->second.observed);
    }
    if (seen.size() < 2) return "unknown";
    return std::all_of(seen.begin(), seen.end(), [&](const Endpoint& s) { return s == seen[0]; }) ? "friendly"
                                                                                               : "unfriendly";
}

std::vector<RegistryClients::NatType> RegistryClients::nat_types(Time now) const {
    std::vector<NatType> out;
    for (const RegistryGroupView& v : views_) {
        out.push_back(NatType{v.group, uplink_, nat_type(v.group, now), true, filtering(v.group, now)});
        for (const auto& [key, type] : tested_)
            if (key.first == v.group && key.second != uplink_)
                out.push_back(NatType{v.group, key.second, type.first, false, type.second});
    }
    return out;
}

namespace {
std::string strongest(bool permissive, bool strict) {
    return permissive ? "permissive" : strict ? "strict" : "unknown";
}
}  // namespace

// Reachable registries' verdicts only: each client's is from answers on the
// uplink in use (follow_uplink restarts its test).
std::string RegistryClients::filtering(const std::string& group, Time now) const {
    bool permissive = false, strict = false;
    for (const Entry& e : clients_) {
        if (e.group != group || !e.client->reachable(now)) continue;
        permissive |= e.client->filtering() == registry::Filtering::permissive;
        strict |= e.client->filtering() == registry::Filtering::strict;
    }
    return strongest(permissive, strict);
}

std::string RegistryClients::peer_filtering(const std::string& group, const std::string& site, Time now) const {
    auto w = wanted_.find(group);
    if (w == wanted_.end()) return "unknown";
    auto member = std::find_if(w->second.members.begin(), w->second.members.end(),
                               [&](const auto& m) { return m.first == site; });
    if (member == w->second.members.end()) return "unknown";
    bool permissive = false, strict = false;
    for (const Entry& e : clients_) {
        if (e.group != group || !e.client->reachable(now)) continue;
        auto c = e.client->contacts().find(member->second);
        if (c == e.client->contacts().end() || c->second.state != registry::ContactState::registered) continue;
        permissive |= c->second.filtering == registry::Filtering::permissive;
        strict |= c->second.filtering == registry::Filtering::strict;
    }
    return strongest(permissive, strict);
}

}  // namespace avpn::runtime
