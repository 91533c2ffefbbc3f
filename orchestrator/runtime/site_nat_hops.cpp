// The shortcut openers' TTL (docs/shortcuts.md, "The punch"): how many NATs
// this site sits behind on the uplink in use, from one round of
// probe::HopProbe toward the group's first registry. Measured once per
// group and uplink (address included), again when the tunnels move.
#include "orchestrator/runtime/site.hpp"

namespace avpn::runtime {

namespace {
// Time for the routers' answers: ICMP from 8 hops of a home or carrier
// network takes milliseconds; a router that does not answer never will.
constexpr std::chrono::seconds kHopWait{2};
}  // namespace

int Site::opener_hops(const std::string& group) const {
    auto h = nat_hops_.find(group);
    return h != nat_hops_.end() && h->second.ttl ? *h->second.ttl : kOpenerHops;
}

void Site::probe_nat_hops() {
    if (!intent_ || !uplinks_) return;
    const std::vector<std::string> active = uplinks_->active();
    std::string uplink = active.empty() ? std::string() : active.front();
    if (auto a = uplink_addresses_.find(uplink); a != uplink_addresses_.end()) uplink += "/" + a->second.str();
    const auto now = Clock::now();
    for (const Group& g : intent_->groups) {
        if (!g.shortcuts || g.transport != Transport::wireguard || g.registries.empty()) continue;
        NatHops& h = nat_hops_[g.name];
        if (h.uplink != uplink) {  // first look, or the tunnels moved: measure anew
            const IpAddr to = g.registries.front().endpoint.addr;
            auto port = shared_ports_.find({g.name, to.family});
            auto p = probe::HopProbe::start(to, port != shared_ports_.end() ? port->second.mark() : 0);
            h.uplink = uplink;
            h.running.reset();
            h.started = now;
            if (!p) {
                log_("shortcuts: " + g.name + ": counting the NATs on the way out: " + p.error().str() +
                     "; openers keep a TTL of " + std::to_string(opener_hops(g.name)));
                continue;
            }
            h.running.emplace(std::move(*p));
        }
        if (!h.running) continue;
        if (Status s = h.running->read(); !s) log_("shortcuts: " + g.name + ": " + s.error().str());
        const probe::HopAnswers& a = h.running->answers();
        if (!a.reached && now - h.started < kHopWait) continue;
        const std::optional<int> ttl = probe::opener_ttl(a);
        // What answered, hop by hop, for the log: "1 192.168.1.1, 2 203.0.113.1, 3 reached".
        std::string hops;
        for (const auto& [hop, from] : a.exceeded) hops += (hops.empty() ? "" : ", ") + std::to_string(hop) + " " + from.str();
        if (a.reached) hops += (hops.empty() ? "" : ", ") + std::to_string(*a.reached) + " reached";
        if (ttl != h.ttl || !h.ttl)
            log_("shortcuts: " + g.name + ": toward " + h.running->target().str() + " (" +
                 (hops.empty() ? std::string("no answer") : hops) + "): " +
                 (ttl ? "the first public router at hop " + std::to_string(*ttl) + ", openers' TTL " + std::to_string(*ttl)
                      : "no public router before it, openers' TTL " + std::to_string(kOpenerHops)));
        h.ttl = ttl;
        h.running.reset();
    }
}

}  // namespace avpn::runtime
