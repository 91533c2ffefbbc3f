// The pure half of the reconciler: compare desired with observed.
#include <algorithm>

#include "plugins/vici/reconcile.hpp"

namespace avpn::vici {

namespace {

bool owned(const std::string& name) { return name.starts_with(kConnPrefix); }

std::vector<std::string> list_or_empty(const Section& s, std::string_view key) {
    const std::vector<std::string>* l = s.list(key);
    return l ? *l : std::vector<std::string>{};
}

// charon reports a number it was given as seconds; absent means 0.
bool same_number(const Section& s, std::string_view key, uint64_t want) {
    const std::string* v = s.value(key);
    return v ? *v == std::to_string(want) : want == 0;
}

// charon lists dpd_action "restart" as "start" and "clear" as "none";
// start_action is not listed at all.
std::string normalize_action(const std::string& a) {
    if (a == "restart") return "start";
    if (a == "clear") return "none";
    return a;
}

bool same_auth(const Section& listed, std::string_view round, const std::string& id) {
    const Section* s = listed.section(round);
    return s && s->value_or("id") == id;
}

bool child_matches(const Connection& c, const Section& listed) {
    const Section* children = listed.section("children");
    if (!children || children->entries().size() != 1) return false;
    const Section* ch = children->section(c.child.name);
    if (!ch) return false;
    const std::string dpd = c.child.dpd_action.empty() ? "clear" : c.child.dpd_action;
    const std::string close = c.child.close_action.empty() ? "none" : c.child.close_action;
    return list_or_empty(*ch, "local-ts") == c.child.local_ts && list_or_empty(*ch, "remote-ts") == c.child.remote_ts &&
           same_number(*ch, "rekey_time", c.child.rekey_time) &&
           normalize_action(ch->value_or("dpd_action", dpd)) == normalize_action(dpd) &&
           normalize_action(ch->value_or("close_action", close)) == normalize_action(close);
}

}  // namespace

bool listed_matches(const Connection& c, const Section& listed) {
    const std::string version = "IKEv" + std::to_string(c.version);
    return list_or_empty(listed, "local_addrs") == (c.local_addrs.empty() ? std::vector<std::string>{"%any"} : c.local_addrs) &&
           list_or_empty(listed, "remote_addrs") == (c.remote_addrs.empty() ? std::vector<std::string>{"%any"} : c.remote_addrs) &&
           listed.value_or("version") == version && same_number(listed, "rekey_time", c.rekey_time) &&
           same_number(listed, "reauth_time", c.reauth_time) && same_number(listed, "dpd_delay", c.dpd_delay) &&
           same_auth(listed, "local-1", c.local_id) && same_auth(listed, "remote-1", c.remote_id) &&
           child_matches(c, listed);
}

ReconcilePlan plan_reconcile(const std::vector<Desired>& desired, const std::set<std::string>& wanted,
                             const Observed& observed, const Fingerprints& last, bool verify_listed) {
    ReconcilePlan plan;
    for (size_t i = 0; i < desired.size(); ++i) {
        const Desired& d = desired[i];
        const std::string& name = d.conn.name;
        auto fp = last.find(name);
        bool unchanged = observed.conns.contains(name) && fp != last.end() && fp->second == d.fingerprint;
        if (unchanged && verify_listed) {
            auto l = observed.listed.find(name);
            unchanged = l != observed.listed.end() && listed_matches(d.conn, l->second);
        }
        (unchanged ? plan.keep : plan.load).push_back(i);
    }
    for (const std::string& name : observed.conns)
        if (owned(name) && !wanted.contains(name)) plan.unload.push_back(name);
    for (const std::string& id : observed.shared_ids)
        if (owned(id) && !wanted.contains(id)) plan.unload_shared.push_back(id);
    return plan;
}

}  // namespace avpn::vici
