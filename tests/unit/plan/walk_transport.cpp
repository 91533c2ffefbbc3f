// Crossing one tunnel of a packet walk, WireGuard or XFRM, from the plans of
// both ends: which peer the sender picks, whether that pair can be up at
// all, and whether the receiver accepts the packet from that peer.
#include "walk_steps.hpp"

#include <tuple>

namespace avpn::test::walk {

namespace {

const nl::WgDevice* device_of(const At& x, size_t path = 0) {
    const std::string name = path_device(x, path);
    for (const nl::WgDevice& d : x.site->plan.wireguard)
        if (d.ifname == name) return &d;
    return nullptr;
}

// The peer whose allowed IPs hold `a` longest, as WireGuard's trie does.
const nl::WgPeer* peer_for(const nl::WgDevice& d, const IpAddr& a, const Prefix** matched = nullptr) {
    const nl::WgPeer* best = nullptr;
    const Prefix* best_prefix = nullptr;
    for (const nl::WgPeer& peer : d.peers)
        if (const Prefix* m = longest_match(peer.allowed_ips, a); m && (!best_prefix || m->len > best_prefix->len)) {
            best = &peer;
            best_prefix = m;
        }
    if (matched) *matched = best_prefix;
    return best;
}

const nl::WgPeer* peer_with_key(const nl::WgDevice& d, const std::string& key) {
    for (const nl::WgPeer& peer : d.peers)
        if (peer.public_key == key) return &peer;
    return nullptr;
}

Crossing dropped(std::string step, std::string why, std::string note = {}) {
    Crossing c;
    c.step = std::move(step);
    c.why = std::move(why);
    c.note = note.empty() ? c.why : std::move(note);
    return c;
}

}  // namespace

std::string path_device(const At& x, size_t path) {
    return path == 0 ? x.group->interface : x.group->interface + ".p" + std::to_string(path);
}

std::optional<size_t> path_of_device(const At& x, const std::string& ifname) {
    if (ifname == x.group->interface) return 0;
    const std::string prefix = x.group->interface + ".p";
    if (ifname.rfind(prefix, 0) != 0) return std::nullopt;
    return size_t(std::stoul(ifname.substr(prefix.size())));
}

const fw::PathSpread* spread_of(const At& x) {
    if (!x.site->plan.firewall) return nullptr;
    for (const fw::PathSpread& s : x.site->plan.firewall->paths)
        if (s.group == x.group->group) return &s;
    return nullptr;
}

Crossing send_wireguard(const GroupSites& sites, const At& x, const Packet& p, size_t path) {
    const nl::WgDevice* dev = device_of(x, path);
    if (!dev) return dropped("wireguard", "no WireGuard device " + path_device(x, path));
    const Prefix* allowed = nullptr;
    const nl::WgPeer* peer = peer_for(*dev, p.dst, &allowed);
    if (!peer) return dropped("wireguard peer", "no peer's allowed IPs hold " + p.dst.str());
    std::string note = "WireGuard peer " + peer->site + " (allowed " + allowed->str() + ")" +
                       (path ? " on " + dev->ifname : "");
    for (const WalkSite& s : *sites.sites) {
        std::optional<At> to = sites.at(s);
        if (!to || s.name == x.site->name) continue;
        const nl::WgDevice* there = device_of(*to);  // the site's key: on its group device
        if (!there || there->public_key != peer->public_key) continue;
        there = device_of(*to, path);  // the other end of this path
        const nl::WgPeer* back = there ? peer_with_key(*there, dev->public_key) : nullptr;
        if (!back)
            return dropped("link", s.name + " has no peer " + x.site->name + " on " + path_device(*to, path), note);
        if (!peer->endpoint && !back->endpoint)
            return dropped("link", "neither " + x.site->name + " nor " + s.name +
                                       " has an endpoint for the other: no handshake", note);
        Crossing c;
        c.to = to;
        c.note = std::move(note);
        c.via_default_route = allowed->is_default();
        c.sender_key = dev->public_key;
        c.path = path;
        return c;
    }
    return dropped("link", "no site of the group has the public key of peer " + peer->site, note);
}

std::string wireguard_arrival(const At& p, const Crossing& c, const Packet& packet) {
    const nl::WgDevice* dev = device_of(p, c.path);
    if (!dev) return "no WireGuard device " + path_device(p, c.path);
    const Prefix* allowed = nullptr;
    const nl::WgPeer* owner = peer_for(*dev, packet.src, &allowed);
    const nl::WgPeer* sender = peer_with_key(*dev, c.sender_key);
    const std::string from = sender ? sender->site : c.sender_key;
    if (!owner) return "src " + packet.src.str() + " is in no peer's allowed IPs (came from " + from + ")";
    if (owner->public_key != c.sender_key)
        return "src " + packet.src.str() + " is " + owner->site + "'s (allowed " + allowed->str() +
               ") but came from " + from;
    return {};
}

namespace {

// The policy the kernel applies: best (lowest) priority among those whose
// selector matches; ties broken as PolicyTies says, and reported.
struct PolicyPick {
    const nl::XfrmPolicy* best = nullptr;
    bool tie = false;
};

PolicyPick pick_policy(const DesiredState& plan, PolicyTies ties, nl::XfrmDir dir, uint32_t if_id,
                       const Packet& p) {
    PolicyPick pick;
    // A fresh apply creates policies in the reconciler's identity order:
    // selector (src, dst) first, so 0/0 before anything longer.
    auto preferred = [ties](const nl::XfrmPolicy& a, const nl::XfrmPolicy& b) {
        if (ties == PolicyTies::first_installed) return std::tie(a.src, a.dst) < std::tie(b.src, b.dst);
        return a.dst.len != b.dst.len ? a.dst.len > b.dst.len : a.src.len > b.src.len;
    };
    for (const nl::XfrmPolicy& pol : plan.xfrm_policies) {
        if (pol.dir != dir || pol.if_id != if_id || !pol.src.contains(p.src) || !pol.dst.contains(p.dst)) continue;
        const nl::XfrmPolicy* b = pick.best;
        if (!b || pol.priority < b->priority) {
            pick = {&pol, false};
            continue;
        }
        if (pol.priority > b->priority) continue;
        if (pol.action != b->action || pol.templates != b->templates) pick.tie = true;
        if (preferred(pol, *b)) pick.best = &pol;
    }
    return pick;
}

const nl::XfrmSa* sa_where(const DesiredState& plan, const IpAddr& dst, uint32_t spi) {
    for (const nl::XfrmSa& sa : plan.xfrm_states)
        if (sa.dst == dst && sa.spi == spi) return &sa;
    return nullptr;
}

const nl::XfrmSa* sa_for(const DesiredState& plan, uint32_t reqid, const IpAddr& src, const IpAddr& dst) {
    for (const nl::XfrmSa& sa : plan.xfrm_states)
        if (sa.reqid == reqid && sa.src == src && sa.dst == dst) return &sa;
    return nullptr;
}

// The same SA at both ends: the kernel's identity (dst, SPI), the same outer
// source and the same key derivation label.
bool same_sa(const nl::XfrmSa& a, const nl::XfrmSa& b) {
    return a.dst == b.dst && a.spi == b.spi && a.src == b.src && a.key.label == b.key.label;
}

std::string sa_text(const nl::XfrmSa& sa) {
    return sa.key.label + " " + sa.src.str() + "→" + sa.dst.str() + " reqid " + std::to_string(sa.reqid);
}

}  // namespace

Crossing send_xfrm(const GroupSites& sites, const At& x, const Packet& p) {
    const uint32_t if_id = x.link->xfrm_if_id;
    PolicyPick pick = pick_policy(x.site->plan, sites.ties, nl::XfrmDir::out, if_id, p);
    if (!pick.best) return dropped("xfrm policy", "no out policy matches (the interface drops it)");
    const nl::XfrmPolicy& pol = *pick.best;
    std::string note = "out policy " + pol.src.str() + "→" + pol.dst.str() + " priority " + std::to_string(pol.priority);
    if (pick.tie) note += " (ties with another policy)";
    if (pol.action == nl::XfrmAction::block || pol.templates.empty())
        return dropped("xfrm policy", "block policy " + pol.src.str() + "→" + pol.dst.str(), note);
    const nl::XfrmTemplate& t = pol.templates.front();
    const nl::XfrmSa* out = sa_for(x.site->plan, t.reqid, t.src, t.dst);
    if (!out || out->if_id != if_id)
        return dropped("xfrm sa", "no SA for reqid " + std::to_string(t.reqid) + " (peer pending)", note);
    note += ", SA " + sa_text(*out);
    for (const WalkSite& s : *sites.sites) {
        std::optional<At> to = sites.at(s);
        if (!to || s.name == x.site->name) continue;
        const nl::XfrmSa* in = sa_where(s.plan, out->dst, out->spi);
        if (!in) continue;
        if (!same_sa(*in, *out) || in->if_id != to->link->xfrm_if_id)
            return dropped("link", s.name + " holds SA " + sa_text(*in) + ", not the same as " + sa_text(*out), note);
        const nl::XfrmSa* back = sa_for(s.plan, in->reqid, in->dst, in->src);
        const nl::XfrmSa* back_here = back ? sa_where(x.site->plan, back->dst, back->spi) : nullptr;
        if (!back || !back_here || !same_sa(*back, *back_here))
            return dropped("link", "the SA from " + s.name + " back to " + x.site->name + " is missing at one end",
                           note);
        Crossing c;
        c.to = to;
        c.note = std::move(note);
        c.via_default_route = pol.dst.is_default();
        c.policy_tie = pick.tie;
        c.sa_in = *in;
        return c;
    }
    return dropped("link", "no site of the group holds SA " + sa_text(*out), note);
}

std::string xfrm_arrival(const GroupSites& sites, const At& p, const Crossing& c, const Packet& packet, bool local) {
    const nl::XfrmSa& sa = *c.sa_in;
    const nl::XfrmDir dir = local ? nl::XfrmDir::in : nl::XfrmDir::fwd;
    PolicyPick pick = pick_policy(p.site->plan, sites.ties, dir, p.link->xfrm_if_id, packet);
    const std::string what = std::string(local ? "in" : "fwd") + " policy for " + packet.src.str() + "→" +
                             packet.dst.str();
    if (!pick.best) return "no " + what + " (came through SA " + sa_text(sa) + ")";
    for (const nl::XfrmTemplate& t : pick.best->templates)
        if (t.reqid == sa.reqid && t.src == sa.src && t.dst == sa.dst) return {};
    std::string expected;
    for (const nl::XfrmTemplate& t : pick.best->templates)
        for (const nl::XfrmSa& other : p.site->plan.xfrm_states)
            if (other.reqid == t.reqid && other.src == t.src && other.dst == t.dst) expected = other.key.label;
    return what + " (" + pick.best->src.str() + "→" + pick.best->dst.str() + ") expects " +
           (expected.empty() ? std::string("another SA") : expected) + " but it came through " + sa_text(sa);
}

}  // namespace avpn::test::walk
