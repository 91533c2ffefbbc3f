#include "orchestrator/runtime/wireguard_watch.hpp"

#include <algorithm>
#include <set>
#include <string_view>

namespace avpn::runtime {

namespace {

bool same_prefixes(std::vector<Prefix> a, std::vector<Prefix> b) {
    if (a.size() != b.size()) return false;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return a == b;
}

std::string named(const nl::WgPeer& p) { return "peer " + p.public_key + (p.site.empty() ? "" : " (" + p.site + ")"); }

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
    for (const nl::WgDevice& d : was) {
        auto it = devices_.find(d.ifname);
        if (it == devices_.end()) continue;
        for (const nl::WgPeer& p : d.peers) it->second.peers.erase(p.public_key);
        if (std::none_of(want.begin(), want.end(), [&](const nl::WgDevice& w) { return w.ifname == d.ifname; }))
            devices_.erase(it);
    }
    for (const nl::WgDevice& d : want) {
        Device& dev = devices_[d.ifname];
        dev.settings = d;
        dev.settings.peers.clear();
        for (const nl::WgPeer& p : d.peers) dev.peers.insert_or_assign(p.public_key, p);
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
    const Device& want = it->second;
    const nl::WgDevice& s = want.settings;
    if (!s.public_key.empty() && s.public_key != observed.public_key) return "the device key changed";
    // A listen port of 0 asks for any port, which the full apply leaves alone too.
    if (s.listen_port != 0 && s.listen_port != observed.listen_port)
        return "listen port " + std::to_string(observed.listen_port) + ", not " +
               std::to_string(s.listen_port);
    if (s.fwmark != observed.fwmark) return "fwmark " + std::to_string(observed.fwmark) + ", not " + std::to_string(s.fwmark);
    Tally extra, changed;
    size_t found = 0;
    for (const nl::WgPeer& have : observed.peers) {
        auto p = want.peers.find(have.public_key);
        if (p == want.peers.end()) {
            extra.add(named(have) + " is not avpn's");
            continue;
        }
        ++found;
        if (!same_prefixes(p->second.allowed_ips, have.allowed_ips))
            changed.add(named(p->second) + " has other allowed IPs");
        else if (p->second.keepalive_seconds != have.keepalive_seconds)
            changed.add(named(p->second) + " has another keepalive");
    }
    Tally missing;
    if (found != want.peers.size()) {
        std::set<std::string_view> have;
        for (const nl::WgPeer& h : observed.peers) have.insert(h.public_key);
        for (const auto& [key, p] : want.peers)
            if (!have.count(key)) missing.add(named(p) + " is missing");
    }
    std::string out;
    for (const auto& [t, many] : {std::pair{&missing, "peers missing"}, std::pair{&changed, "peers changed"},
                                  std::pair{&extra, "peers not avpn's"}})
        if (t->count) out += (out.empty() ? "" : "; ") + t->text(many);
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace avpn::runtime
