#include "orchestrator/reconcile/diff.hpp"

#include "orchestrator/reconcile/identity.hpp"
#include "plugins/wireguard/backend.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace avpn {

namespace {

using identity::key;

template <class T>
bool same(const T& want, const T& have) { return want == have; }
template <>
bool same(const nl::WgDevice& want, const nl::WgDevice& have) { return same_wireguard(want, have); }
// What a link cannot change in place: kind, if_id, underlay and WireGuard
// implementation. No underlay and any implementation mean "the run time's
// choice": whatever it chose is fine.
bool same_device(const nl::Link& want, const nl::Link& have) {
    return want.name == have.name && want.kind == have.kind && want.xfrm_if_id == have.xfrm_if_id &&
           (want.underlay.empty() || want.underlay == have.underlay) &&
           (want.wg_impl == nl::WgImpl::any || want.wg_impl == have.wg_impl);
}
template <>
bool same(const nl::Link& want, const nl::Link& have) {
    // MTU 0 is the kernel's default: whatever it chose is fine.
    return same_device(want, have) && (want.mtu == 0 || want.mtu == have.mtu) && want.up == have.up;
}
// An SA of avpnd's key exchange whose session changed under the same SPI
// (a responder answering a retried initiation offers the SPI it offered
// before, with the new handshake's key). The kernel cannot change a key in
// place, and the new session's sender starts at sequence 1, so the SA is
// deleted and created afresh, never updated or replaced with its replay
// state carried. Only the last plan knows the session (a dump does not):
// avpnd's key exchange changes SAs through the incremental path, where
// `have` is that plan's object.
bool other_session(const nl::XfrmSa& want, const nl::XfrmSa& have) {
    return want.key.session_key != 0 && have.key.session_key != 0 && want.key.session_key != have.key.session_key;
}
// Make-before-break for SAs: an SA that goes while another takes its place
// under a new SPI (avpnd's rotation switching its outbound SA) is removed
// after the creates, so no packet meets the default-drop policy with no SA
// in between (the kernel counts those in XfrmOutNoStates; a ping every
// 50 ms lost 1 in 1,600 across rotations before). While both exist the
// kernel sends on the newer one. An SA deleted and created again under the
// same key keeps its order: the create would collide with it.
void sas_make_before_break(std::vector<Op>& ops) {
    std::set<std::tuple<IpAddr, uint32_t>> created;
    for (const Op& op : ops)
        if (const auto* sa = std::get_if<nl::XfrmSa>(&op.object); sa && op.kind != OpKind::remove)
            created.insert({sa->dst, sa->spi});
    std::stable_partition(ops.begin(), ops.end(), [&](const Op& op) {
        const auto* sa = std::get_if<nl::XfrmSa>(&op.object);
        return !(sa && op.kind == OpKind::remove && !created.count({sa->dst, sa->spi}));
    });
}
template <>
bool same(const nl::XfrmSa& want, const nl::XfrmSa& have) {
    // A dump cannot say where a static key came from; its SPI is derived
    // from the same inputs as the key, so such a key change always comes
    // with a new SPI.
    if (other_session(want, have)) return false;
    nl::XfrmSa w = want;
    w.key = have.key;
    return w == have;
}

// A link that differs in what cannot change in place is replaced; its MTU
// and admin state are updated in place, keeping its addresses, routes and
// WireGuard peers (and their sessions).
template <class T>
bool needs_replace(const T& want, const T& have) {
    if constexpr (std::is_same_v<T, nl::Link>)
        return !same_device(want, have);
    else if constexpr (std::is_same_v<T, nl::XfrmSa>)
        return other_session(want, have);
    else
        return false;
}

struct Lists {
    std::vector<Op> removes;
    std::vector<Op> upserts;
};

// An SA of avpnd's key exchange that keeps its session and SPI but moves to
// other addresses (a WAN failover: the local uplink; a peer that roamed) is
// another object for the kernel, whose SA identity includes the
// destination: a remove and a create. Created afresh, its sender would
// start at sequence 1 again under the same key (AES-GCM nonces repeated,
// the peer's replay window reopened), which XfrmKeying refuses. So the pair
// becomes one update, which the port carries out as a replace: the old SA
// read, deleted, and the moved one added with its sequence state carried on
// (xfrm_replace.hpp).
void sa_moves(Lists& l) {
    std::map<std::pair<uint64_t, uint32_t>, size_t> removed;  // (session key, SPI) -> index in removes
    for (size_t i = 0; i < l.removes.size(); ++i)
        if (const auto* sa = std::get_if<nl::XfrmSa>(&l.removes[i].object); sa && sa->key.session_key != 0)
            removed[{sa->key.session_key, sa->spi}] = i;
    if (removed.empty()) return;
    std::vector<bool> moved(l.removes.size(), false);
    for (Op& op : l.upserts) {
        const auto* sa = std::get_if<nl::XfrmSa>(&op.object);
        if (!sa || op.kind != OpKind::create || sa->key.session_key == 0) continue;
        auto it = removed.find({sa->key.session_key, sa->spi});
        if (it == removed.end() || moved[it->second]) continue;
        moved[it->second] = true;
        op.kind = OpKind::update;
        op.previous = l.removes[it->second].object;
    }
    size_t k = 0;
    std::erase_if(l.removes, [&](const Op&) { return moved[k++]; });
}

// The objects of one kind ordered by key, as pointers: states are large
// (150,000 XFRM policies at a 10,000-spoke hub), so neither side is copied,
// and a side that already is in key order (the usual case) is not sorted.
template <class T, class Less>
std::vector<const T*> by_key(const std::vector<T>& v, Less less) {
    std::vector<const T*> out;
    out.reserve(v.size());
    for (const T& x : v) out.push_back(&x);
    auto less_ptr = [&](const T* a, const T* b) { return less(*a, *b); };
    if (!std::is_sorted(out.begin(), out.end(), less_ptr)) std::sort(out.begin(), out.end(), less_ptr);
    return out;
}

// Observed objects the kernel would drop as a side effect of another op of
// this diff: everything on a link being replaced; the routes whose preferred
// source is an address being removed; and every IPv4 route through a link
// whose IPv4 addresses are all removed (removes run before creates, and the
// kernel flushes a device's IPv4 routes when its last IPv4 address goes, as
// for a link that goes down). Each gets an explicit remove
// (made before the op that would drop it: removes run routes first, links
// last) and a desired one of the same identity is created afresh. So the
// journal holds them and an undo puts them back; left to the kernel, a
// failed apply could not restore them (found by netns_apply_fault).
struct Doomed {
    std::set<std::string> links;
    std::set<IpAddr> addresses;
    std::set<std::string> v4_flushed;  // links left without an IPv4 address for a moment

    bool empty() const { return links.empty() && addresses.empty() && v4_flushed.empty(); }
    template <class T>
    bool operator()(const T& o) const {
        if constexpr (requires { o.ifname; })
            if (links.count(o.ifname)) return true;
        if constexpr (std::is_same_v<T, nl::Route>) {
            if (o.prefsrc && addresses.count(*o.prefsrc)) return true;
            if (o.dst.family() == Family::v4 && v4_flushed.count(o.ifname)) return true;
        }
        return false;
    }
};

// Merges one kind; observed objects `doomed` names are removed explicitly.
template <class T>
void diff_kind(const std::vector<T>& want_all, const std::vector<T>& have_all, const Doomed& doomed, Lists& out) {
    auto less = [](const T& a, const T& b) { return key(a) < key(b); };
    std::vector<const T*> want = by_key(want_all, less), have = by_key(have_all, less);
    if (!doomed.empty())
        std::erase_if(have, [&](const T* h) {
            if (!doomed(*h)) return false;
            out.removes.push_back({OpKind::remove, *h, std::nullopt});
            return true;
        });
    size_t i = 0, j = 0;
    while (i < want.size() || j < have.size()) {
        if (j == have.size() || (i < want.size() && less(*want[i], *have[j]))) {
            out.upserts.push_back({OpKind::create, *want[i++], std::nullopt});
        } else if (i == want.size() || less(*have[j], *want[i])) {
            out.removes.push_back({OpKind::remove, *have[j++], std::nullopt});
        } else {
            if (!same(*want[i], *have[j])) {
                if (needs_replace(*want[i], *have[j])) {
                    out.removes.push_back({OpKind::remove, *have[j], std::nullopt});
                    out.upserts.push_back({OpKind::create, *want[i], std::nullopt});
                } else {
                    out.upserts.push_back({OpKind::update, *want[i], *have[j]});
                }
            }
            ++i;
            ++j;
        }
    }
}

// When a link is replaced, the kernel drops its addresses, routes and
// WireGuard configuration with it; when an address goes, the routes that
// use it as their source.
Doomed doomed_by(const nl::KernelState& desired, const nl::KernelState& observed) {
    Doomed d;
    for (const nl::Link& have : observed.links)
        for (const nl::Link& want : desired.links)
            if (want.name == have.name && !same_device(want, have)) d.links.insert(have.name);
    std::set<decltype(key(std::declval<const nl::InterfaceAddress&>()))> kept;
    for (const nl::InterfaceAddress& a : desired.addresses) kept.insert(key(a));
    std::map<std::string, std::pair<size_t, size_t>> v4;  // link: observed, removed
    for (const nl::InterfaceAddress& a : observed.addresses) {
        bool removed = d.links.count(a.ifname) || !kept.count(key(a));
        if (removed) d.addresses.insert(a.address);
        if (a.address.family != Family::v4) continue;
        auto& [seen, gone] = v4[a.ifname];
        ++seen;
        gone += removed;
    }
    for (const auto& [link, counts] : v4)
        if (counts.first == counts.second) d.v4_flushed.insert(link);
    return d;
}

}  // namespace

// One equality rule for WireGuard devices: the backend's own delta. A
// second rule here once disagreed with it (a desired listen port of 0 =
// "any", duplicate allowed IPs), so the engine asked for updates the backend
// then found empty, on every apply.
bool same_wireguard(const nl::WgDevice& want, const nl::WgDevice& have) {
    return want.ifname == have.ifname && wg::diff(want, have).empty();
}

std::vector<Op> diff(const nl::KernelState& desired, const nl::KernelState& observed) {
    const Doomed doomed = doomed_by(desired, observed);
    const Doomed none;
    Lists l;
    // A cold apply (nothing observed) turns every desired object into an op,
    // 200,000 at a 10,000-spoke hub: room for them up front, not by doubling.
    auto objects = [](const nl::KernelState& k) {
        return k.links.size() + k.addresses.size() + k.wireguard.size() + k.xfrm_states.size() +
               k.xfrm_policies.size() + k.routes.size() + k.rules.size();
    };
    if (objects(observed) == 0) l.upserts.reserve(objects(desired));
    diff_kind(desired.links, observed.links, none, l);
    diff_kind(desired.addresses, observed.addresses, doomed, l);
    diff_kind(desired.wireguard, observed.wireguard, doomed, l);
    diff_kind(desired.xfrm_states, observed.xfrm_states, none, l);
    sa_moves(l);
    diff_kind(desired.xfrm_policies, observed.xfrm_policies, none, l);
    diff_kind(desired.routes, observed.routes, doomed, l);
    diff_kind(desired.rules, observed.rules, none, l);

    // diff_kind ran in phase order, so both lists are grouped by phase,
    // ascending; deletes go out with the groups reversed. Moving whole
    // groups keeps 200,000-op cold applies from shuffling ops around.
    if (l.removes.empty()) return std::move(l.upserts);
    std::vector<Op> ops;
    ops.reserve(l.removes.size() + l.upserts.size());
    for (size_t end = l.removes.size(); end > 0;) {
        size_t begin = end;
        while (begin > 0 && l.removes[begin - 1].phase() == l.removes[end - 1].phase()) --begin;
        ops.insert(ops.end(), std::make_move_iterator(l.removes.begin() + long(begin)),
                   std::make_move_iterator(l.removes.begin() + long(end)));
        end = begin;
    }
    ops.insert(ops.end(), std::make_move_iterator(l.upserts.begin()),
               std::make_move_iterator(l.upserts.end()));
    sas_make_before_break(ops);
    return ops;
}

}  // namespace avpn
