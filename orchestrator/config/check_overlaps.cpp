// Every prefix someone claims: each group's tunnel subnet, this site's VLAN
// subnets (exported or only local), its advertised prefixes and every
// member's exports. Within a group exports must not overlap (nested counts: a
// /24 inside another site's /22); across groups neither tunnel subnets nor
// exports may overlap; no tunnel subnet may overlap anything; and no member
// may export anything that overlaps one of this site's VLANs (local networks
// win). One sort-and-sweep (find_overlaps) over all of
// them keeps a 10,000-member group well under a second.
#include <algorithm>

#include "common/prefix_index.hpp"
#include "orchestrator/config/loader.hpp"
#include "orchestrator/exports.hpp"

namespace avpn::config {

namespace {

enum class Kind { tunnel, exported, vlan };

struct Claim {
    Kind kind;
    size_t group;             // tunnel, exported; unused for a VLAN (site-wide)
    const std::string* site;  // nullptr for a tunnel subnet
    SourceLoc loc;
    std::string field;
    size_t vlan = 0;          // Kind::vlan: index into intent.vlans
};

class Claims {
public:
    explicit Claims(Loader& l) : l_(l) {}

    void add(const Prefix& p, Claim c) {
        prefixes_.push_back(p);
        claims_.push_back(std::move(c));
    }
    void add_vlans();
    void add_group(size_t gi);
    void report();

private:
    std::string describe(size_t i) const;
    bool conflicts(const Claim& a, const Claim& b) const;
    bool is_this_site(const Claim& c) const { return c.site == &l_.intent.site.name; }
    void report_vlan(size_t member_export, size_t vlan_subnet);

    Loader& l_;
    std::vector<Prefix> prefixes_;
    std::vector<Claim> claims_;
};

// Every subnet of this site's VLANs, once, whether a group exports it or not:
// what it exports is routed here anyway, and a VLAN it keeps local must not
// be routed away either.
void Claims::add_vlans() {
    for (size_t v = 0; v < l_.intent.vlans.size(); ++v) {
        const Where& w = l_.vlans[v];
        const char* key = w.has("subnets") ? "subnets" : "subnet";
        bool many = w.has("subnets") && w.ok("subnets");
        for (size_t s = 0; s < l_.intent.vlans[v].subnets.size(); ++s)
            add(l_.intent.vlans[v].subnets[s], {Kind::vlan, 0, &l_.intent.site.name, many ? w.item_loc(key, s) : w.loc(key),
                                                many ? w.item_field(key, s) : w.field(key), v});
    }
}

// A group's tunnel subnet, what this site advertises to it (hubs) and every
// member's exports; this site's exported VLANs are claimed by add_vlans().
void Claims::add_group(size_t gi) {
    const Group& g = l_.intent.groups[gi];
    const GroupState& st = l_.groups[gi];
    const Where& subnet = st.tunnel_subnet_where();
    if (subnet.ok("tunnel_subnet"))
        add(g.tunnel_subnet, {Kind::tunnel, gi, nullptr, subnet.loc("tunnel_subnet"), subnet.field("tunnel_subnet")});
    std::vector<Prefix> exported = site_exports(l_.intent, g);
    const Where& gw = st.where;
    for (size_t i = 0; i < g.advertise.size(); ++i) {
        if (!std::binary_search(exported.begin(), exported.end(), g.advertise[i])) continue;  // a spoke's: an error already
        bool exact = gw.ok("advertise");
        add(g.advertise[i], {Kind::exported, gi, &l_.intent.site.name,
                             exact ? gw.item_loc("advertise", i) : gw.loc("advertise"),
                             exact ? gw.item_field("advertise", i) : gw.field("advertise")});
    }
    for (size_t m = 0; m < g.members.size(); ++m) {
        const Member& member = g.members[m];
        if (member.role == Role::off) continue;  // a site that is off exports nothing
        const Where& w = st.members.where[m];
        bool exact = w.ok("exports");
        for (size_t e = 0; e < member.exports.size(); ++e)
            add(member.exports[e], {Kind::exported, gi, &member.name, exact ? w.item_loc("exports", e) : w.loc("exports"),
                                    exact ? w.item_field("exports", e) : w.field("exports")});
    }
}

bool Claims::conflicts(const Claim& a, const Claim& b) const {
    if (a.kind == Kind::tunnel || b.kind == Kind::tunnel) return a.kind != b.kind || a.group != b.group;
    if (a.site == b.site || *a.site == *b.site) return false;  // a site's own prefixes may nest
    return true;  // two sites' exports, or a member's export and a VLAN here
}

std::string Claims::describe(size_t i) const {
    const Claim& c = claims_[i];
    switch (c.kind) {
        case Kind::tunnel: return "the tunnel subnet " + prefixes_[i].str() + " of group \"" + l_.intent.groups[c.group].name + "\"";
        case Kind::vlan:
            return "subnet " + prefixes_[i].str() + " of VLAN \"" + l_.intent.vlans[c.vlan].name + "\" of site \"" + *c.site + "\"";
        case Kind::exported: break;
    }
    return prefixes_[i].str() + " exported by site \"" + *c.site + "\" in group \"" + l_.intent.groups[c.group].name + "\"";
}

// Local networks win: the member's export is the one to go, so the error is
// at the member's entry and names this site's VLAN.
void Claims::report_vlan(size_t member_export, size_t vlan_subnet) {
    const Claim& m = claims_[member_export];
    const Claim& v = claims_[vlan_subnet];
    const Prefix& mp = prefixes_[member_export];
    const Prefix& vp = prefixes_[vlan_subnet];
    std::string how = mp == vp ? "equals" : mp.contains(vp) ? "covers" : "is inside";
    const Vlan& vlan = l_.intent.vlans[v.vlan];
    l_.diag.error(m.loc, m.field,
                  mp.str() + " exported by member \"" + *m.site + "\" of group \"" + l_.intent.groups[m.group].name + "\" " +
                      how + " subnet " + vp.str() + " of this site's VLAN \"" + vlan.name + "\" (" + v.field + " at " +
                      v.loc.str() + ", " + (vlan.shareable ? "shareable" : "not shareable") +
                      "); this site's own networks win: drop the prefix from the member's exports or renumber one of them");
}

void Claims::report() {
    for (const PrefixOverlap& o : find_overlaps(prefixes_)) {
        const Claim& outer = claims_[o.outer];
        const Claim& inner = claims_[o.inner];
        if (!conflicts(outer, inner)) continue;
        if (outer.kind == Kind::vlan && inner.kind == Kind::exported) {
            report_vlan(o.inner, o.outer);
            continue;
        }
        if (inner.kind == Kind::vlan && outer.kind == Kind::exported) {
            report_vlan(o.outer, o.inner);
            continue;
        }
        // Report at this site's own line when it is involved, else at the
        // non-tunnel side, else at the more specific prefix.
        bool at_outer = (is_this_site(outer) && !is_this_site(inner)) ||
                        (inner.kind == Kind::tunnel && outer.kind != Kind::tunnel);
        size_t here = at_outer ? o.outer : o.inner, there = at_outer ? o.inner : o.outer;
        std::string hint = claims_[here].group == claims_[there].group
                               ? "; exported prefixes must be unique in a group"
                               : "; groups must not share prefixes";
        if (claims_[here].kind == Kind::tunnel || claims_[there].kind == Kind::tunnel)
            hint = "; tunnel subnets must not overlap any network";
        l_.diag.error(claims_[here].loc, claims_[here].field,
                      describe(here) + " overlaps " + describe(there) + " (at " + claims_[there].loc.str() + ")" + hint);
    }
}

}  // namespace

void check_overlaps(Loader& l) {
    Claims claims(l);
    claims.add_vlans();
    for (size_t g = 0; g < l.intent.groups.size(); ++g) claims.add_group(g);
    claims.report();
}

}  // namespace avpn::config
