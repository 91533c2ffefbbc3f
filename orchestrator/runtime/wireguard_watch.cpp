#include "orchestrator/runtime/wireguard_watch.hpp"

#include <algorithm>

#include "orchestrator/plan/site_pieces.hpp"
#include "plugins/wireguard/backend.hpp"

namespace avpn::runtime {

namespace {

bool by_key(const nl::WgPeer& a, const nl::WgPeer& b) { return a.public_key < b.public_key; }

// Counts the differences of one kind and remembers the first, so one log
// line says how many and which.
struct Tally {
    size_t count = 0;
    std::string first;
    void add(std::string what) {
        if (count++ == 0) first = std::move(what);
    }
    std::string text(const char* many) const {
        return count == 1 ? first : std::to_string(count) + " " + many + ", first " + first;
    }
};

}  // namespace

void WireguardExpectation::reset(const std::vector<nl::WgDevice>& applied) {
    devices_.clear();
    apply(applied, {});
}

void WireguardExpectation::apply(const std::vector<nl::WgDevice>& want, const std::vector<nl::WgDevice>& was) {
    auto wanted = [&](const std::string& ifname) {
        return std::any_of(want.begin(), want.end(), [&](const nl::WgDevice& w) { return w.ifname == ifname; });
    };
    for (const nl::WgDevice& d : was)
        if (!wanted(d.ifname)) devices_.erase(d.ifname);
    for (const nl::WgDevice& d : want) {
        std::map<std::string, nl::WgPeer> peers;
        if (auto it = devices_.find(d.ifname); it != devices_.end())
            for (nl::WgPeer& p : it->second.peers) peers.emplace(p.public_key, std::move(p));
        for (const nl::WgDevice& old : was)
            if (old.ifname == d.ifname)
                for (const nl::WgPeer& p : old.peers) peers.erase(p.public_key);
        for (const nl::WgPeer& p : d.peers) peers.insert_or_assign(p.public_key, p);
        nl::WgDevice& dev = devices_[d.ifname];
        dev = d;
        dev.peers.clear();
        dev.peers.reserve(peers.size());
        for (auto& [key, p] : peers) {
            p.endpoint.reset();  // roams; never drift
            dev.peers.push_back(std::move(p));
        }
    }
}

std::vector<std::string> WireguardExpectation::interfaces() const {
    std::vector<std::string> out;
    for (const auto& [name, d] : devices_) out.push_back(name);
    return out;
}

std::optional<std::string> WireguardExpectation::difference(const nl::WgDevice& observed) const {
    auto it = devices_.find(observed.ifname);
    if (it == devices_.end()) return std::nullopt;  // not avpn's
    const nl::WgDevice& want = it->second;
    wg::WgDeviceChange change = wg::diff(want, observed);
    if (change.empty()) return std::nullopt;
    auto named = [&](const std::string& key) {
        nl::WgPeer probe;
        probe.public_key = key;
        auto p = std::lower_bound(want.peers.begin(), want.peers.end(), probe, by_key);
        bool known = p != want.peers.end() && p->public_key == key && !p->site.empty();
        return "peer " + key + (known ? " (" + p->site + ")" : "");
    };
    std::string out;
    auto say = [&](const std::string& what) { out += (out.empty() ? "" : "; ") + what; };
    if (change.private_key_ref || change.private_key) say("the device key changed");
    if (change.listen_port)
        say("listen port " + std::to_string(observed.listen_port) + ", not " + std::to_string(*change.listen_port));
    if (change.fwmark) say("fwmark " + std::to_string(observed.fwmark) + ", not " + std::to_string(*change.fwmark));
    Tally missing, changed, extra;
    for (const wg::WgPeerChange& p : change.peers) {
        if (p.remove)
            extra.add(named(p.public_key) + " is not avpn's");
        else if (!p.update_only)
            missing.add(named(p.public_key) + " is missing");
        else if (p.replace_allowed_ips)
            changed.add(named(p.public_key) + " has other allowed IPs");
        else
            changed.add(named(p.public_key) + " has another keepalive");
    }
    for (const auto& [t, many] : {std::pair{&missing, "peers missing"}, std::pair{&changed, "peers changed"},
                                  std::pair{&extra, "peers not avpn's"}})
        if (t->count) say(t->text(many));
    return out;
}

std::map<std::pair<std::string, std::string>, Endpoint> wireguard_roams(
    const planner::SitePieces& committed, const std::map<std::string, wg::WgDeviceStatus>& seen, int64_t now,
    const std::map<std::pair<std::string, std::string>, Endpoint>& current) {
    constexpr int64_t kRejectAfter = 180;
    std::map<std::pair<std::string, std::string>, Endpoint> out;
    for (const planner::GroupPieces& g : committed.groups) {
        if (g.constants.transport != Transport::wireguard) continue;
        auto dev = seen.find(g.constants.interface);
        if (dev == seen.end()) continue;
        const auto& peers = dev->second.device.peers;  // both sorted by public key
        const auto& stats = dev->second.peers;
        for (const planner::PeerInput& p : g.peers) {
            if (!p.endpoint) continue;
            auto have = std::lower_bound(peers.begin(), peers.end(), p.public_key,
                                         [](const nl::WgPeer& x, const std::string& k) { return x.public_key < k; });
            if (have == peers.end() || have->public_key != p.public_key || !have->endpoint) continue;
            auto st = std::lower_bound(stats.begin(), stats.end(), p.public_key,
                                       [](const wg::WgPeerStats& x, const std::string& k) { return x.public_key < k; });
            if (st == stats.end() || st->public_key != p.public_key) continue;
            const bool live = st->last_handshake_sec > 0 && now - st->last_handshake_sec < kRejectAfter;
            if (!live) continue;
            const std::pair<std::string, std::string> key{g.constants.group, p.name};
            // The plan follows a roam already: it is still one while the
            // device holds it.
            auto followed = current.find(key);
            if (*have->endpoint != *p.endpoint || (followed != current.end() && followed->second == *have->endpoint))
                out[key] = *have->endpoint;
        }
    }
    return out;
}

}  // namespace avpn::runtime
