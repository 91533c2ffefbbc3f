// The site's direct spoke-to-spoke shortcuts (docs/shortcuts.md): each
// second avpnd looks at every spoke the committed plan's shortcut watch
// names, hands what it sees to the ShortcutKeeper, and probes the shortcuts
// that are up through them.
#include <algorithm>

#include "orchestrator/runtime/shortcut_counters.hpp"
#include "orchestrator/runtime/site.hpp"
#include "plugins/registry/wire.hpp"

namespace avpn::runtime {

namespace {

const Group* group_named(const Intent& in, const std::string& name) {
    for (const Group& g : in.groups)
        if (g.name == name) return &g;
    return nullptr;
}

const Member* member_named(const Group& g, const std::string& name) {
    for (const Member& m : g.members)
        if (m.name == name) return &m;
    return nullptr;
}

// Whether a site's tunnel port can be reached from anywhere once it has
// sent there: "open" (a static contact in the member list: no NAT in the
// way, or one that forwards every source), else a NAT type from the
// registries. Only what the member list says counts as open, as that is
// what the other end reads about this one (peer_class): both must agree on
// who initiates. A port forward without a listed contact registers like
// any site, and its registries see it as friendly.
//
// "friendly, permissive": a friendly NAT (the contact the registries saw is
// the one every peer reaches) that lets in datagrams from endpoints the
// site never sent to, or from other ports of addresses it sent to (the
// filtering test, docs/registry.md): for a peer that sends first, it is as
// good as open. The opener this site sends to the peer's address lets an
// address-dependent filter pass the peer's new port.
std::string classify(bool listed, const std::string& type, const std::string& filtering) {
    if (listed) return "open";
    if (type == "friendly" && filtering == "permissive") return "friendly, permissive";
    return type;
}

std::string own_class(const Group& g, const RegistryClients& reg, RegistryClients::Time now) {
    return classify(g.self_contact.has_value(), reg.nat_type(g.name, now), reg.filtering(g.name, now));
}

std::string peer_class(const Group& g, const Member& m, const RegistryClients& reg, RegistryClients::Time now) {
    return classify(m.contact.has_value(), reg.peer_nat_type(g.name, m.name, now), reg.peer_filtering(g.name, m.name, now));
}

// Takes the other end's first datagram from wherever it comes.
bool answers_anyone(const std::string& c) { return c == "open" || c == "friendly, permissive"; }
bool friendly(const std::string& c) { return c == "friendly" || c == "friendly, permissive"; }

// Both friendly NATs punch (each send opens its mapping for the other's);
// an end that answers anyone lets the other send first and answers where
// it came from (WireGuard replies to an initiation's source), whatever the
// other's NAT. Anything else would need port guessing, which avpn does not
// do: the pair stays on the hub.
std::string why_not(const std::string& own, const std::string& peer, const std::string& name) {
    if (answers_anyone(own) || answers_anyone(peer) || (friendly(own) && friendly(peer))) return "";
    if (!friendly(own)) return "this site's NAT type is " + own;
    return name + "'s NAT type is " + peer;
}

// Which end of a trying pair sends the initiation (the other only answers:
// initiations that cross can leave both ends without a session): the end
// that would not answer anyone when the other would (its NAT may map the
// way to the other end to another port than the registries saw, and the
// other answers where the initiation came from), else the smaller name.
// Both ends compute it alike from what they both read from the registries.
bool initiates(const std::string& own, const std::string& other, const std::string& self, const std::string& name) {
    if (answers_anyone(own) != answers_anyone(other)) return answers_anyone(other);
    return self < name;
}

const planner::PeerInput* planned_peer(const planner::SitePieces& p, const std::string& group, const std::string& site) {
    for (const planner::GroupPieces& g : p.groups) {
        if (g.constants.group != group) continue;
        for (const planner::PeerInput& in : g.peers)
            if (in.name == site) return &in;
    }
    return nullptr;
}

const GroupPlan* group_plan(const planner::SitePieces& p, const std::string& group) {
    for (const GroupPlan& g : p.shared.groups)
        if (g.group == group) return &g;
    return nullptr;
}

}  // namespace

bool Site::has_shortcuts() const {
    if (!intent_ || idle_) return false;
    return std::any_of(intent_->groups.begin(), intent_->groups.end(), [&](const Group& g) {
        return g.shortcuts && g.transport == Transport::wireguard && intent_->site.role == Role::spoke;
    });
}

std::map<ShortcutKeeper::Key, ShortcutSeen> Site::look_at_shortcuts() {
    std::map<ShortcutKeeper::Key, ShortcutSeen> seen;
    const planner::SitePieces* committed = planner_.committed();
    if (!committed || !committed->shared.firewall || !firewall_ || !has_shortcuts()) return seen;
    const auto& watch = committed->shared.firewall->shortcut_watch;
    const auto now = Clock::now();
    auto packets = read_shortcut_counters(*firewall_, watch);
    if (!packets && packets.error().str() != shortcut_error_) {
        shortcut_error_ = packets.error().str();
        log_("shortcuts: reading the watch counters: " + shortcut_error_);
    }
    // Replies to the last round's probes, by (group, source address).
    std::set<std::pair<std::string, IpAddr>> answered;
    for (auto& [group, socket] : shortcut_probes_)
        for (int i = 0; i < 256; ++i) {
            auto r = socket.receive();
            if (!r || !*r) break;
            answered.insert({group, (*r)->from});
        }
    // The trying peers' handshakes: their groups' devices, read now (a
    // spoke's device is small), so a shortcut comes up within a second of
    // its handshake and both ends move close together.
    std::map<std::string, wg::WgDeviceStatus> devices;
    for (const auto& [key, state] : shortcuts_.states()) {
        if (state == ShortcutState::up) continue;
        const GroupPlan* gp = group_plan(*committed, key.first);
        if (!gp || devices.count(gp->interface)) continue;
        if (auto d = port_->read_wireguard_status(gp->interface)) devices.emplace(gp->interface, std::move(*d));
    }
    for (const fw::ShortcutWatch& w : watch) {
        const Group* g = group_named(*intent_, w.group);
        const Member* m = g ? member_named(*g, w.site) : nullptr;
        if (!g || !m) continue;
        ShortcutSeen s;
        if (packets)
            if (auto p = packets->find(w.counter); p != packets->end()) s.packets = p->second;
        s.contact = m->contact || registry_.contacts().count({w.group, w.site});
        const std::string own = own_class(*g, registry_, now), other = peer_class(*g, *m, registry_, now);
        // Behind this site's own NAT (its LAN contact): no NAT in between,
        // whatever type the two share (docs/shortcuts.md, "Eligible").
        s.why_not = registry_.lan_contact(w.group, w.site) ? "" : why_not(own, other, w.site);
        s.eligible = s.why_not.empty();
        s.initiate = initiates(own, other, intent_->site.name, w.site);
        const planner::PeerInput* peer = planned_peer(*committed, w.group, w.site);
        const GroupPlan* gp = group_plan(*committed, w.group);
        if (peer && peer->shortcut && gp)
            if (auto d = devices.find(gp->interface); d != devices.end())
                for (const wg::WgPeerStats& st : d->second.peers)
                    if (st.public_key == peer->public_key) s.handshake = st.last_handshake_sec != 0;
        const ShortcutKeeper::Key key{w.group, w.site};
        if (shortcut_probe_sent_.count(key) && peer)
            s.probe = answered.count({w.group, peer->tunnel_address}) > 0;
        seen.emplace(key, std::move(s));
    }
    shortcut_probe_sent_.clear();
    return seen;
}

// One echo request to each up shortcut's tunnel address, from this site's
// own, on the group's device: it goes out through the shortcut, and its
// reply comes back through it only while the other end routes this site
// there too (through its hub the reply would fail this end's source check).
void Site::send_shortcut_probes() {
    const planner::SitePieces* committed = planner_.committed();
    std::set<std::string> groups;
    for (const auto& [key, state] : shortcuts_.states()) {
        if (state != ShortcutState::up || !committed) continue;
        const planner::PeerInput* peer = planned_peer(*committed, key.first, key.second);
        const GroupPlan* gp = group_plan(*committed, key.first);
        if (!peer || !gp || peer->shortcut != ShortcutState::up) continue;  // not applied yet
        groups.insert(key.first);
        auto sock = shortcut_probes_.find(key.first);
        if (sock == shortcut_probes_.end()) {
            // An identifier of its own: the uplink prober's sockets and
            // another group's see the same replies on a shared device.
            const uint16_t id = uint16_t(0x5c00 + shortcut_probes_.size());
            auto s = probe::IcmpEchoSocket::open(gp->interface, gp->tunnel_address, id);
            if (!s) {
                if (s.error().str() != shortcut_error_) log_("shortcuts: probe socket: " + (shortcut_error_ = s.error().str()));
                continue;
            }
            sock = shortcut_probes_.emplace(key.first, std::move(*s)).first;
        }
        // A send that fails is a lost probe: nothing answers it.
        (void)sock->second.send(peer->tunnel_address, ++shortcut_seq_);
        shortcut_probe_sent_[key] = shortcut_seq_;
    }
    for (auto it = shortcut_probes_.begin(); it != shortcut_probes_.end();)
        it = groups.count(it->first) ? std::next(it) : shortcut_probes_.erase(it);
}

// The punch's first half (docs/shortcuts.md, "The punch"): a datagram from
// the tunnel port to the other end's contact that opens this site's NAT
// mappings toward it and dies at the first public router past them
// (site_nat_hops.cpp), before the other end's NAT. Were
// it to arrive there before that NAT had a mapping of its own toward us, a
// NAT that takes it in (no firewall on its own address) would keep a
// conntrack entry for it, and the other end's initiation would then get
// another port than its registered one: the pair would never meet.
void Site::send_shortcut_openers() {
    static const std::vector<uint8_t> opener = {0, 0, 0, 0, uint8_t(registry::MessageType::opener), 'a', 'v', 'p'};
    for (const ShortcutKeeper::Key& key : shortcuts_.opening()) {
        const Group* g = intent_ ? group_named(*intent_, key.first) : nullptr;
        const Member* m = g ? member_named(*g, key.second) : nullptr;
        if (!m) continue;
        std::optional<Endpoint> to = m->contact;
        if (auto c = registry_.contacts().find(key); c != registry_.contacts().end()) to = c->second;
        if (!to) continue;
        auto port = shared_ports_.find({key.first, to->addr.family});
        if (port == shared_ports_.end()) continue;  // no registry of that family: nothing shares the port
        if (Status s = port->second.send(*to, opener, opener_hops(key.first)); !s && s.error().str() != shortcut_error_)
            log_("shortcuts: opener: " + (shortcut_error_ = s.error().str()));
    }
}

bool Site::shortcut_tick() {
    probe_nat_hops();
    auto seen = look_at_shortcuts();
    for (const std::string& line : shortcuts_.update(seen, Clock::now())) log_(line);
    send_shortcut_openers();
    send_shortcut_probes();
    return shortcuts_.take_changed();
}

}  // namespace avpn::runtime
