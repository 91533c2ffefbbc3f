#include "orchestrator/reconcile/diff.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace avpn {

namespace {

// Identity of each kind as the kernel sees it: two objects with the same key
// cannot coexist, so a differing value is an update (or a replace).
auto key(const nl::Link& l) { return std::tie(l.name); }
auto key(const nl::InterfaceAddress& a) { return std::tie(a.ifname, a.address, a.prefix_len); }
auto key(const nl::WgDevice& d) { return std::tie(d.ifname); }
auto key(const nl::XfrmSa& s) { return std::tie(s.dst, s.spi); }
auto key(const nl::XfrmPolicy& p) { return std::tie(p.src, p.dst, p.dir, p.if_id, p.mark); }
auto key(const nl::Route& r) { return std::tie(r.table, r.dst, r.metric); }
auto key(const nl::Rule& r) { return std::tie(r); }

template <class T>
bool same(const T& want, const T& have) { return want == have; }
template <>
bool same(const nl::WgDevice& want, const nl::WgDevice& have) { return same_wireguard(want, have); }
template <>
bool same(const nl::Link& want, const nl::Link& have) {
    // MTU 0 and no underlay mean "the kernel's choice": whatever it chose is fine.
    return want.name == have.name && want.kind == have.kind && want.xfrm_if_id == have.xfrm_if_id &&
           (want.mtu == 0 || want.mtu == have.mtu) && (want.underlay.empty() || want.underlay == have.underlay);
}
template <>
bool same(const nl::XfrmSa& want, const nl::XfrmSa& have) {
    // A dump cannot say where the key came from; the SPI is derived from the
    // same inputs as the key, so a key change always comes with a new SPI.
    nl::XfrmSa w = want;
    w.key = have.key;
    return w == have;
}

// Links cannot change kind or if_id in place: a differing link is replaced.
template <class T>
constexpr bool replace_on_change = std::is_same_v<T, nl::Link>;

struct Lists {
    std::vector<Op> removes;
    std::vector<Op> upserts;
};

template <class T>
void diff_kind(std::vector<T> want, std::vector<T> have, Lists& out) {
    auto less = [](const T& a, const T& b) { return key(a) < key(b); };
    std::sort(want.begin(), want.end(), less);
    std::sort(have.begin(), have.end(), less);
    size_t i = 0, j = 0;
    while (i < want.size() || j < have.size()) {
        if (j == have.size() || (i < want.size() && less(want[i], have[j]))) {
            out.upserts.push_back({OpKind::create, want[i++], std::nullopt});
        } else if (i == want.size() || less(have[j], want[i])) {
            out.removes.push_back({OpKind::remove, have[j++], std::nullopt});
        } else {
            if (!same(want[i], have[j])) {
                if constexpr (replace_on_change<T>) {
                    out.removes.push_back({OpKind::remove, have[j], std::nullopt});
                    out.upserts.push_back({OpKind::create, want[i], std::nullopt});
                } else {
                    out.upserts.push_back({OpKind::update, want[i], have[j]});
                }
            }
            ++i;
            ++j;
        }
    }
}

// When a link is replaced, the kernel drops its addresses, routes and
// WireGuard configuration with it: forget them in the observed state so they
// are created again on the new link.
nl::KernelState without_dependents_of_replaced_links(const nl::KernelState& desired,
                                                     const nl::KernelState& observed) {
    std::set<std::string> replaced;
    for (const nl::Link& have : observed.links)
        for (const nl::Link& want : desired.links)
            if (want.name == have.name && !same(want, have)) replaced.insert(have.name);
    if (replaced.empty()) return observed;
    nl::KernelState o = observed;
    auto on_replaced = [&](const std::string& ifname) { return replaced.count(ifname) > 0; };
    std::erase_if(o.addresses, [&](const auto& a) { return on_replaced(a.ifname); });
    std::erase_if(o.routes, [&](const auto& r) { return on_replaced(r.ifname); });
    std::erase_if(o.wireguard, [&](const auto& d) { return on_replaced(d.ifname); });
    return o;
}

}  // namespace

bool same_wireguard(const nl::WgDevice& want, const nl::WgDevice& have) {
    if (want.ifname != have.ifname || want.public_key != have.public_key ||
        want.listen_port != have.listen_port || want.fwmark != have.fwmark ||
        want.peers.size() != have.peers.size())
        return false;
    auto by_key = [](const nl::WgPeer& a, const nl::WgPeer& b) { return a.public_key < b.public_key; };
    std::vector<nl::WgPeer> w = want.peers, h = have.peers;
    std::sort(w.begin(), w.end(), by_key);
    std::sort(h.begin(), h.end(), by_key);
    for (size_t i = 0; i < w.size(); ++i) {
        if (w[i].public_key != h[i].public_key || w[i].keepalive_seconds != h[i].keepalive_seconds)
            return false;
        if (w[i].endpoint && w[i].endpoint != h[i].endpoint) return false;
        auto wa = w[i].allowed_ips, ha = h[i].allowed_ips;
        std::sort(wa.begin(), wa.end());
        std::sort(ha.begin(), ha.end());
        if (wa != ha) return false;
    }
    return true;
}

std::vector<Op> diff(const nl::KernelState& desired, const nl::KernelState& observed_in) {
    nl::KernelState observed = without_dependents_of_replaced_links(desired, observed_in);
    Lists l;
    diff_kind(desired.links, observed.links, l);
    diff_kind(desired.addresses, observed.addresses, l);
    diff_kind(desired.wireguard, observed.wireguard, l);
    diff_kind(desired.xfrm_states, observed.xfrm_states, l);
    diff_kind(desired.xfrm_policies, observed.xfrm_policies, l);
    diff_kind(desired.routes, observed.routes, l);
    diff_kind(desired.rules, observed.rules, l);

    auto by_phase = [](const Op& a, const Op& b) { return a.phase() < b.phase(); };
    std::stable_sort(l.upserts.begin(), l.upserts.end(), by_phase);
    std::stable_sort(l.removes.begin(), l.removes.end(),
                     [](const Op& a, const Op& b) { return a.phase() > b.phase(); });
    std::vector<Op> ops = std::move(l.removes);
    ops.insert(ops.end(), std::make_move_iterator(l.upserts.begin()),
               std::make_move_iterator(l.upserts.end()));
    return ops;
}

}  // namespace avpn
