#include "packet_walk.hpp"

#include <algorithm>

#include "walk_steps.hpp"

namespace avpn::test {

using namespace walk;

namespace {

constexpr uint32_t kMainTable = 254;

// What routing decides for a packet at one site.
struct Decision {
    enum Kind { local, tunnel, left } kind = left;
    bool own_address = false;    // local: the site's own tunnel address
    bool default_route = false;  // tunnel: by a default route (full tunnel)
    std::string how;
    size_t path = 0;             // tunnel: through path i's device (active-active)
};

bool rule_matches(const nl::Rule& r, const Packet& p) {
    if (r.family != p.dst.family) return false;
    // A walked packet carries its path's mark (active-active) or none.
    const bool mark_matches = (p.mark & r.fwmask) == r.fwmark;
    const bool match = (!r.src || r.src->contains(p.src)) && (!r.dst || r.dst->contains(p.dst)) && mark_matches;
    return r.invert ? !match : match;
}

const nl::Route* longest_route(const DesiredState& plan, uint32_t table, const IpAddr& dst) {
    const nl::Route* best = nullptr;
    for (const nl::Route& r : plan.routes)
        if (r.table == table && r.dst.contains(dst) && (!best || r.dst.len > best->dst.len)) best = &r;
    return best;
}

std::string rule_text(const nl::Rule& r) {
    std::string s = std::to_string(r.priority) + ": ";
    if (r.src) s += "from " + r.src->str() + " ";
    if (r.fwmask) s += std::string(r.invert ? "not " : "") + "fwmark " + std::to_string(r.fwmark) + " ";
    s += "lookup " + (r.table == kMainTable ? std::string("main") : std::to_string(r.table));
    if (r.suppress_prefixlen >= 0) s += " suppress_prefixlength " + std::to_string(r.suppress_prefixlen);
    return s;
}

// Main as avpn sees it: the site's connected networks, then a default route
// to the internet (hidden by suppress_prefixlength 0).
std::optional<Decision> lookup_main(const WalkSite& s, const Packet& p, int suppress_prefixlen,
                                    const std::string& rule) {
    if (const Prefix* lan = longest_match(s.lans, p.dst))
        return Decision{Decision::local, false, false, rule + " → connected " + lan->str()};
    if (suppress_prefixlen >= 0) return std::nullopt;
    return Decision{Decision::left, false, false, rule + " → main's default route: left avpn for the internet"};
}

Decision route_at(const At& x, const Packet& p) {
    const WalkSite& s = *x.site;
    if (p.dst == x.group->tunnel_address) return {Decision::local, true, false, "its own tunnel address"};
    for (const nl::Rule& r : s.plan.rules) {  // sorted by priority first
        if (!rule_matches(r, p)) continue;
        if (r.table == kMainTable) {
            if (auto d = lookup_main(s, p, r.suppress_prefixlen, "rule " + rule_text(r))) return *d;
            continue;
        }
        const nl::Route* route = longest_route(s.plan, r.table, p.dst);
        if (!route) continue;
        std::string how = "rule " + rule_text(r) + " → " + route->dst.str() + " dev " + route->ifname;
        const std::optional<size_t> path = path_of_device(x, route->ifname);
        if (!path) return {Decision::left, false, false, how + " (not this group)"};
        return {Decision::tunnel, false, route->dst.is_default(), how, *path};
    }
    if (auto d = lookup_main(s, p, -1, "main")) return *d;
    return {};
}

}  // namespace

namespace walk {

std::optional<At> GroupSites::at(const WalkSite& s) const {
    At a{&s, nullptr, nullptr};
    for (const GroupPlan& g : s.plan.groups)
        if (g.group == group) a.group = &g;
    if (!a.group) return std::nullopt;
    for (const nl::Link& l : s.plan.links)
        if (l.name == a.group->interface) a.link = &l;
    if (!a.link) return std::nullopt;
    return a;
}

const Prefix* longest_match(const std::vector<Prefix>& prefixes, const IpAddr& a) {
    const Prefix* best = nullptr;
    for (const Prefix& p : prefixes)
        if (p.contains(a) && (!best || p.len > best->len)) best = &p;
    return best;
}

}  // namespace walk

WalkSite walk_site(const Intent& intent, DesiredState plan) {
    WalkSite s{intent.site.name, {}, std::move(plan)};
    for (const Vlan& v : intent.vlans) s.lans.insert(s.lans.end(), v.subnets.begin(), v.subnets.end());
    // A hub's advertised prefixes sit behind a router of its own: main
    // reaches them by a static route, which the walk counts as the site's.
    for (const Group& g : intent.groups) s.lans.insert(s.lans.end(), g.advertise.begin(), g.advertise.end());
    return s;
}

IpAddr host_in(const Prefix& p) {
    if (p.len == p.addr.max_len()) return p.addr;
    IpAddr a = p.addr;
    for (size_t i = a.size(); i-- > 0;)  // + 1, with carry
        if (++a.bytes[i] != 0) break;
    return a;
}

std::string Walk::str() const {
    std::string s = delivered ? "delivered at " + hops.back() : "dropped at " + dropped_at + " (" + step + "): " + why;
    s += "\n  path:";
    for (const std::string& h : hops) s += " " + h;
    for (const std::string& t : trace) s += "\n  " + t;
    return s;
}

PacketWalker::PacketWalker(std::string group, std::vector<WalkSite> sites, PolicyTies ties)
    : group_(std::move(group)), sites_(std::move(sites)), ties_(ties) {}

const WalkSite* PacketWalker::site(const std::string& name) const {
    for (const WalkSite& s : sites_)
        if (s.name == name) return &s;
    return nullptr;
}

std::vector<std::string> PacketWalker::members() const {
    GroupSites all{&sites_, group_};
    std::vector<std::string> out;
    for (const WalkSite& s : sites_)
        if (all.at(s)) out.push_back(s.name);
    return out;
}

std::optional<IpAddr> PacketWalker::tunnel_address(const std::string& name) const {
    const WalkSite* s = site(name);
    std::optional<At> a = s ? GroupSites{&sites_, group_}.at(*s) : std::nullopt;
    if (!a) return std::nullopt;
    return a->group->tunnel_address;
}

Walk PacketWalker::walk(const std::string& from, const IpAddr& src, const IpAddr& dst, size_t path) const {
    const GroupSites all{&sites_, group_, ties_};
    Packet p{src, dst};
    Walk w;
    w.trace.push_back(src.str() + " → " + dst.str() + " from " + from);
    auto drop = [&](const std::string& where, std::string step, std::string why) {
        w.dropped_at = where;
        w.step = std::move(step);
        w.why = std::move(why);
        return w;
    };
    const WalkSite* start = site(from);
    std::optional<At> x = start ? all.at(*start) : std::nullopt;
    if (!x) return drop(from, "start", "not a site of group " + group_);
    // The source's paths chain: a connection towards a multi-path peer's
    // prefixes takes path `path` (what the hash would pick for some flow).
    if (const fw::PathSpread* spread = spread_of(*x); spread && longest_match(spread->remote, dst)) {
        if (path >= spread->devices.size())
            return drop(from, "start", "path " + std::to_string(path) + " of " + std::to_string(spread->devices.size()));
        p.mark = spread->first_mark + uint32_t(path);
        w.trace.push_back(from + ": path " + std::to_string(path) + " (mark " + std::to_string(p.mark) + ")");
    } else if (path != 0) {
        return drop(from, "start", "no paths towards " + dst.str() + " here");
    }
    std::optional<Crossing> came;  // how the packet reached x
    for (;;) {
        const std::string& here = x->site->name;
        if (std::find(w.hops.begin(), w.hops.end(), here) != w.hops.end()) {
            w.hops.push_back(here);
            return drop(here, "loop", "the packet came back to " + here);
        }
        w.hops.push_back(here);
        // Arrival on path i's device: the connection is on path i here too.
        if (came) {
            const fw::PathSpread* spread = spread_of(*x);
            p.mark = spread && came->path < spread->devices.size() ? spread->first_mark + uint32_t(came->path) : 0;
        }
        const Decision d = route_at(*x, p);
        if (came) {
            const bool wg = x->link->kind == nl::LinkKind::wireguard;
            std::string bad = wg ? wireguard_arrival(*x, *came, p) : xfrm_arrival(all, *x, *came, p, d.own_address);
            if (!bad.empty()) return drop(here, "source check", bad);
        }
        w.trace.push_back(here + ": " + d.how);
        if (d.kind == Decision::local) {
            w.delivered = true;
            return w;
        }
        if (d.kind == Decision::left) return drop(here, "route", d.how);
        w.via_default_route = w.via_default_route || d.default_route;
        Crossing c = x->link->kind == nl::LinkKind::wireguard ? send_wireguard(all, *x, p, d.path) : send_xfrm(all, *x, p);
        w.trace.push_back(here + ": " + c.note);
        w.via_default_route = w.via_default_route || c.via_default_route;
        w.policy_tie = w.policy_tie || c.policy_tie;
        if (!c.to) return drop(here, c.step, c.why);
        x = c.to;
        came = std::move(c);
    }
}

}  // namespace avpn::test
