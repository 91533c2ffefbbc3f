#include "orchestrator/reconcile/kernel_image.hpp"

#include <algorithm>

namespace avpn {

namespace {

template <class T>
void upsert(std::set<T, identity::Less>& set, const T& x) {
    auto it = set.find(x);
    if (it != set.end()) it = set.erase(it);
    set.insert(it, x);
}

// Appends the objects of `set` whose identity one of `from` has, once each.
template <class T>
void pick(const std::set<T, identity::Less>& set, const std::vector<T>& from, std::set<T, identity::Less>& out) {
    for (const T& x : from)
        if (auto it = set.find(x); it != set.end()) out.insert(*it);
}

template <class T>
std::vector<T> slice_of(const std::set<T, identity::Less>& set, const std::vector<T>& a, const std::vector<T>& b) {
    std::set<T, identity::Less> out;
    pick(set, a, out);
    pick(set, b, out);
    return {out.begin(), out.end()};
}

}  // namespace

KernelImage KernelImage::of(const nl::KernelState& s) {
    KernelImage im;
    im.links_.insert(s.links.begin(), s.links.end());
    im.addresses_.insert(s.addresses.begin(), s.addresses.end());
    for (const nl::WgDevice& d : s.wireguard) {
        Device& dev = im.wireguard_[d.ifname];
        dev.settings = d;
        dev.settings.peers.clear();
        for (const nl::WgPeer& p : d.peers) dev.peers.emplace(p.public_key, p);
    }
    im.sas_.insert(s.xfrm_states.begin(), s.xfrm_states.end());
    im.policies_.insert(s.xfrm_policies.begin(), s.xfrm_policies.end());
    im.routes_.insert(s.routes.begin(), s.routes.end());
    im.rules_.insert(s.rules.begin(), s.rules.end());
    return im;
}

void KernelImage::adopt_key_refs(const nl::KernelState& desired) {
    for (const nl::XfrmSa& want : desired.xfrm_states) {
        auto it = sas_.find(want);
        if (it == sas_.end()) continue;
        nl::XfrmSa sa = *it;
        sa.key = want.key;
        sas_.erase(it);
        sas_.insert(std::move(sa));
    }
}

void KernelImage::lend_key_refs(nl::KernelState& dumped) const {
    for (nl::XfrmSa& sa : dumped.xfrm_states) {
        auto it = sas_.find(sa);
        if (it != sas_.end() && it->key.session_key != 0 && sa.key.session_key == 0) sa.key = it->key;
    }
}

nl::KernelState KernelImage::slice(const nl::KernelState& a, const nl::KernelState& b) const {
    nl::KernelState out;
    out.links = slice_of(links_, a.links, b.links);
    out.addresses = slice_of(addresses_, a.addresses, b.addresses);
    std::map<std::string, nl::WgDevice> devices;
    for (const auto* side : {&a, &b})
        for (const nl::WgDevice& want : side->wireguard) {
            auto it = wireguard_.find(want.ifname);
            if (it == wireguard_.end()) continue;
            auto [d, fresh] = devices.try_emplace(want.ifname, it->second.settings);
            for (const nl::WgPeer& p : want.peers)
                if (auto pit = it->second.peers.find(p.public_key); pit != it->second.peers.end())
                    d->second.peers.push_back(pit->second);
        }
    for (auto& [name, d] : devices) {
        std::sort(d.peers.begin(), d.peers.end());
        d.peers.erase(std::unique(d.peers.begin(), d.peers.end()), d.peers.end());
        out.wireguard.push_back(std::move(d));
    }
    out.xfrm_states = slice_of(sas_, a.xfrm_states, b.xfrm_states);
    out.xfrm_policies = slice_of(policies_, a.xfrm_policies, b.xfrm_policies);
    out.routes = slice_of(routes_, a.routes, b.routes);
    out.rules = slice_of(rules_, a.rules, b.rules);
    return out;
}

void KernelImage::drop_link(const std::string& ifname) {
    std::erase_if(addresses_, [&](const nl::InterfaceAddress& x) { return x.ifname == ifname; });
    std::erase_if(routes_, [&](const nl::Route& x) { return x.ifname == ifname; });
    wireguard_.erase(ifname);
}

void KernelImage::record(const Op& op) {
    const bool remove = op.kind == OpKind::remove;
    std::visit(
        [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, nl::WgDevice>) {
                if (remove) {
                    wireguard_.erase(o.ifname);
                    return;
                }
                Device& d = wireguard_[o.ifname];
                d.settings = o;
                d.settings.peers.clear();
                // An update names the peers it covers on both sides: those
                // only in `previous` were removed.
                if (op.previous)
                    for (const nl::WgPeer& p : std::get<nl::WgDevice>(*op.previous).peers) d.peers.erase(p.public_key);
                for (const nl::WgPeer& p : o.peers) d.peers.insert_or_assign(p.public_key, p);
            } else {
                auto& set = [&]() -> auto& {
                    if constexpr (std::is_same_v<T, nl::Link>) return links_;
                    else if constexpr (std::is_same_v<T, nl::InterfaceAddress>) return addresses_;
                    else if constexpr (std::is_same_v<T, nl::XfrmSa>) return sas_;
                    else if constexpr (std::is_same_v<T, nl::XfrmPolicy>) return policies_;
                    else if constexpr (std::is_same_v<T, nl::Route>) return routes_;
                    else return rules_;
                }();
                // A moved SA (diff.cpp, sa_moves) is an update whose old
                // identity goes.
                if constexpr (std::is_same_v<T, nl::XfrmSa>)
                    if (op.kind == OpKind::update && op.previous) set.erase(std::get<T>(*op.previous));
                if (!remove) return upsert(set, o);
                set.erase(o);
                if constexpr (std::is_same_v<T, nl::Link>) drop_link(o.name);
            }
        },
        op.object);
}

void KernelImage::record(const std::vector<Op>& executed) {
    for (const Op& op : executed) record(op);
}

size_t KernelImage::objects() const {
    size_t n = links_.size() + addresses_.size() + sas_.size() + policies_.size() + routes_.size() + rules_.size();
    for (const auto& [name, d] : wireguard_) n += 1 + d.peers.size();
    return n;
}

nl::KernelState KernelImage::state() const {
    nl::KernelState s;
    s.links = {links_.begin(), links_.end()};
    s.addresses = {addresses_.begin(), addresses_.end()};
    for (const auto& [name, d] : wireguard_) {
        nl::WgDevice dev = d.settings;
        for (const auto& [key, p] : d.peers) dev.peers.push_back(p);
        s.wireguard.push_back(std::move(dev));
    }
    s.xfrm_states = {sas_.begin(), sas_.end()};
    s.xfrm_policies = {policies_.begin(), policies_.end()};
    s.routes = {routes_.begin(), routes_.end()};
    s.rules = {rules_.begin(), rules_.end()};
    // In value order, as plans and dumps are, not in identity order.
    std::sort(s.xfrm_states.begin(), s.xfrm_states.end());
    std::sort(s.xfrm_policies.begin(), s.xfrm_policies.end());
    std::sort(s.routes.begin(), s.routes.end());
    std::sort(s.addresses.begin(), s.addresses.end());
    std::sort(s.links.begin(), s.links.end());
    return s;
}

}  // namespace avpn
