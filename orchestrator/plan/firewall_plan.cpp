#include "orchestrator/plan/firewall_plan.hpp"

#include <algorithm>
#include <map>

namespace avpn::fw {

namespace {

using Prefixes = std::vector<Prefix>;

constexpr Family kFamilies[] = {Family::v4, Family::v6};

// Sorted, and none inside another: an interval set refuses overlapping
// elements. After sorting, a prefix inside an earlier one follows it with
// only prefixes of that same one in between, so the last kept one decides.
Prefixes collapse(Prefixes v) {
    std::sort(v.begin(), v.end());
    Prefixes out;
    out.reserve(v.size());
    for (const Prefix& p : v)
        if (out.empty() || !out.back().contains(p)) out.push_back(p);
    return out;
}

Prefixes of_family(const Prefixes& v, Family f) {
    Prefixes out;
    for (const Prefix& p : v)
        if (p.family() == f) out.push_back(p);
    return out;
}

std::string suffix(Family f) { return f == Family::v4 ? "-4" : "-6"; }

// A resolved from/to: "any", or prefixes that go into a named set
// (vlan:, site:) or inline (a literal prefix).
struct Ref {
    bool any = false;
    std::string set_base;
    Prefixes prefixes;
};

class Builder {
public:
    Builder(const Intent& intent, const std::vector<PeerSite>& peers, Errors& errors)
        : intent_(intent), peers_(peers), errors_(errors) {}

    FirewallTable build() {
        Prefixes local, remote;
        for (const Vlan& v : intent_.vlans) local.insert(local.end(), v.subnets.begin(), v.subnets.end());
        for (const PeerSite& p : peers_) {
            remote.insert(remote.end(), p.exports.begin(), p.exports.end());
            remote.push_back(Prefix::host(p.tunnel_address));
        }
        local_ = local = collapse(std::move(local));
        remote_ = remote = collapse(std::move(remote));
        for (Family f : kFamilies) {
            std::string l = add_set("local" + suffix(f), f, of_family(local, f));
            std::string r = add_set("peers" + suffix(f), f, of_family(remote, f));
            // Both directions: a rule's from/to decide which one it allows.
            table_.forward.push_back(jump(f, l, r));
            table_.forward.push_back(jump(f, r, l));
        }
        for (Family f : kFamilies) {
            Rule est;
            est.family = f;
            est.established = true;
            table_.rules.push_back(est);
        }
        for (size_t i = 0; i < intent_.firewall.size(); ++i) add_rule(intent_.firewall[i], i);
        for (Family f : kFamilies) {
            Rule drop;
            drop.family = f;
            drop.counter = kDefaultDropCounter;
            drop.verdict = Verdict::drop;
            table_.rules.push_back(drop);
        }
        table_.counters.push_back(kDefaultDropCounter);
        for (auto& [name, set] : sets_) table_.sets.push_back(std::move(set));
        return std::move(table_);
    }

private:
    std::string add_set(const std::string& name, Family f, Prefixes elements) {
        sets_.try_emplace(name, Set{name, f, std::move(elements)});
        return name;
    }

    static Rule jump(Family f, const std::string& from_set, const std::string& to_set) {
        Rule r;
        r.family = f;
        r.saddr = AddrMatch{from_set, {}};
        r.daddr = AddrMatch{to_set, {}};
        r.verdict = Verdict::jump_rules;
        return r;
    }

    void error(const FwRule& r, size_t i, const char* key, std::string why) {
        errors_.push_back({"plan firewall", r.loc.str() + " firewall[" + std::to_string(i) + "]." + key,
                           std::move(why)});
    }

    std::optional<Ref> resolve(const FwRule& r, size_t i, const char* key, const std::string& text) {
        Ref ref;
        std::string_view s = text;
        if (s == "any") {
            ref.any = true;
        } else if (s.starts_with("vlan:")) {
            ref.set_base = "vlan-" + text.substr(5);
            for (const Vlan& v : intent_.vlans)
                if (v.name == s.substr(5)) ref.prefixes = v.subnets;
            if (ref.prefixes.empty()) return error(r, i, key, "no VLAN named \"" + text.substr(5) + "\""), std::nullopt;
        } else if (s.starts_with("site:")) {
            ref.set_base = "site-" + text.substr(5);
            for (const PeerSite& p : peers_) {
                if (p.name != s.substr(5)) continue;
                ref.prefixes.insert(ref.prefixes.end(), p.exports.begin(), p.exports.end());
                ref.prefixes.push_back(Prefix::host(p.tunnel_address));
            }
            if (ref.prefixes.empty())
                return error(r, i, key, "no active member named \"" + text.substr(5) + "\" in this site's groups"),
                       std::nullopt;
        } else if (auto p = Prefix::parse(s)) {
            // Only traffic between a local VLAN and a peer reaches the
            // rules: a prefix outside both would make a rule that never acts.
            auto near = [&](const Prefixes& v) {
                return std::any_of(v.begin(), v.end(), [&](const Prefix& q) { return q.overlaps(*p); });
            };
            if (!near(local_) && !near(remote_))
                return error(r, i, key,
                             text + " is neither in a local VLAN nor in a peer's exports or tunnel address: "
                                    "the rules only see traffic between those, so this rule would never match"),
                       std::nullopt;
            ref.prefixes = {*p};
        } else {
            return error(r, i, key, "\"" + text + "\" is not a firewall reference"), std::nullopt;
        }
        ref.prefixes = collapse(std::move(ref.prefixes));
        return ref;
    }

    // nullopt with `absent` set: the reference holds nothing of family f.
    std::optional<AddrMatch> match(const Ref& ref, Family f, bool& absent) {
        absent = false;
        if (ref.any) return std::nullopt;
        Prefixes in = of_family(ref.prefixes, f);
        if (in.empty()) return absent = true, std::nullopt;
        if (ref.set_base.empty()) return AddrMatch{"", in.front()};
        return AddrMatch{add_set(ref.set_base + suffix(f), f, std::move(in)), {}};
    }

    void add_rule(const FwRule& r, size_t i) {
        const std::string counter = "rule-" + std::to_string(i + 1);
        table_.counters.push_back(counter);
        auto from = resolve(r, i, "from", r.from);
        auto to = resolve(r, i, "to", r.to);
        if (!from || !to) return;
        bool emitted = false;
        for (Family f : kFamilies) {
            bool from_absent, to_absent;
            Rule out;
            out.family = f;
            out.saddr = match(*from, f, from_absent);
            out.daddr = match(*to, f, to_absent);
            if (from_absent || to_absent) continue;
            out.protocol = r.protocol == "any" ? "" : r.protocol == "icmp" && f == Family::v6 ? "ipv6-icmp" : r.protocol;
            out.dports = r.ports;
            std::sort(out.dports.begin(), out.dports.end());
            out.dports.erase(std::unique(out.dports.begin(), out.dports.end()), out.dports.end());
            out.counter = counter;
            out.verdict = r.action == FwAction::allow ? Verdict::accept : Verdict::drop;
            out.origin = r.loc;
            table_.rules.push_back(std::move(out));
            emitted = true;
        }
        if (!emitted)
            error(r, i, "to",
                  "from \"" + r.from + "\" and to \"" + r.to + "\" share no address family: this rule can never match");
    }

    const Intent& intent_;
    const std::vector<PeerSite>& peers_;
    Errors& errors_;
    FirewallTable table_;
    Prefixes local_, remote_;  // every local VLAN subnet, every peer prefix
    std::map<std::string, Set> sets_;
};

}  // namespace

FirewallTable plan_firewall(const Intent& intent, const std::vector<PeerSite>& peers, Errors& errors) {
    return Builder(intent, peers, errors).build();
}

namespace {

// Exactly the fields Builder reads: a VLAN's name and subnets, every field
// of a rule but its comment.
bool same_vlans(const std::vector<Vlan>& a, const std::vector<Vlan>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const Vlan& x, const Vlan& y) { return x.name == y.name && x.subnets == y.subnets; });
}

bool same_rules(const std::vector<FwRule>& a, const std::vector<FwRule>& b) {
    auto same = [](const FwRule& x, const FwRule& y) {
        return x.action == y.action && x.from == y.from && x.to == y.to && x.protocol == y.protocol &&
               x.ports == y.ports && x.loc.file == y.loc.file && x.loc.line == y.loc.line &&
               x.loc.column == y.loc.column;
    };
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), same);
}

}  // namespace

std::shared_ptr<const PlannedFirewall> plan_firewall_reusing(const Intent& intent, std::vector<PeerSite> peers,
                                                             std::shared_ptr<const PlannedFirewall> previous) {
    if (previous && previous->peers == peers && same_rules(previous->rules, intent.firewall) &&
        same_vlans(previous->vlans, intent.vlans))
        return previous;
    auto out = std::make_shared<PlannedFirewall>();
    out->table = plan_firewall(intent, peers, out->errors);
    out->vlans = intent.vlans;
    out->rules = intent.firewall;
    out->peers = std::move(peers);
    return out;
}

}  // namespace avpn::fw
