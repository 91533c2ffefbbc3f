// Every prefix someone claims: each group's tunnel subnet, this site's VLAN
// subnets (exported or only local) and every member's exports. Within a group
// exports must not overlap (nested counts: a /24 inside another site's /22);
// across groups neither tunnel subnets nor exports may overlap, and no tunnel
// subnet may overlap anything. One sort-and-sweep (find_overlaps) over all of
// them keeps a 10,000-member group well under a second.
#include <algorithm>
#include <map>

#include "common/prefix_index.hpp"
#include "orchestrator/config/loader.hpp"
#include "orchestrator/exports.hpp"

namespace avpn::config {

namespace {

enum class Kind { tunnel, exported, local };

struct Claim {
    Kind kind;
    size_t group;
    const std::string* site;  // nullptr for a tunnel subnet
    SourceLoc loc;
    std::string field;
};

struct Origin {
    SourceLoc loc;
    std::string field;
};

class Claims {
public:
    explicit Claims(Loader& l) : l_(l) {}

    void add(const Prefix& p, Claim c) {
        prefixes_.push_back(p);
        claims_.push_back(std::move(c));
    }
    void add_group(size_t gi);
    void report();

private:
    std::map<Prefix, Origin> site_origins(size_t gi) const;
    std::string describe(size_t i) const;
    bool conflicts(const Claim& a, const Claim& b) const;
    bool is_this_site(const Claim& c) const { return c.site == &l_.intent.site.name; }

    Loader& l_;
    std::vector<Prefix> prefixes_;
    std::vector<Claim> claims_;
};

// Where this site wrote each prefix it may export in group gi.
std::map<Prefix, Origin> Claims::site_origins(size_t gi) const {
    std::map<Prefix, Origin> out;
    for (size_t v = 0; v < l_.intent.vlans.size(); ++v) {
        const Where& w = l_.vlans[v];
        const char* key = w.has("subnets") ? "subnets" : "subnet";
        for (size_t s = 0; s < l_.intent.vlans[v].subnets.size(); ++s) {
            bool many = w.has("subnets") && w.ok("subnets");
            out.emplace(l_.intent.vlans[v].subnets[s],
                        Origin{many ? w.item_loc(key, s) : w.loc(key), many ? w.item_field(key, s) : w.field(key)});
        }
    }
    const Where& gw = l_.groups[gi].where;
    const std::vector<Prefix>& adv = l_.intent.groups[gi].advertise;
    for (size_t i = 0; i < adv.size(); ++i) {
        bool exact = gw.ok("advertise");
        out.emplace(adv[i], Origin{exact ? gw.item_loc("advertise", i) : gw.loc("advertise"),
                                   exact ? gw.item_field("advertise", i) : gw.field("advertise")});
    }
    return out;
}

void Claims::add_group(size_t gi) {
    const Group& g = l_.intent.groups[gi];
    const GroupState& st = l_.groups[gi];
    const Where& subnet = st.tunnel_subnet_where();
    if (subnet.ok("tunnel_subnet"))
        add(g.tunnel_subnet, {Kind::tunnel, gi, nullptr, subnet.loc("tunnel_subnet"), subnet.field("tunnel_subnet")});
    std::map<Prefix, Origin> origins = site_origins(gi);
    std::vector<Prefix> exported = site_exports(l_.intent, g);
    for (const auto& [prefix, origin] : origins) {
        bool is_export = std::binary_search(exported.begin(), exported.end(), prefix);
        add(prefix, {is_export ? Kind::exported : Kind::local, gi, &l_.intent.site.name, origin.loc, origin.field});
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
    return a.kind == Kind::exported && b.kind == Kind::exported;
}

std::string Claims::describe(size_t i) const {
    const Claim& c = claims_[i];
    std::string group = "group \"" + l_.intent.groups[c.group].name + "\"";
    switch (c.kind) {
        case Kind::tunnel: return "the tunnel subnet " + prefixes_[i].str() + " of " + group;
        case Kind::local: return "VLAN subnet " + prefixes_[i].str() + " of site \"" + *c.site + "\"";
        case Kind::exported: break;
    }
    return prefixes_[i].str() + " exported by site \"" + *c.site + "\" in " + group;
}

void Claims::report() {
    for (const PrefixOverlap& o : find_overlaps(prefixes_)) {
        const Claim& outer = claims_[o.outer];
        const Claim& inner = claims_[o.inner];
        if (!conflicts(outer, inner)) continue;
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
    for (size_t g = 0; g < l.intent.groups.size(); ++g) claims.add_group(g);
    claims.report();
}

}  // namespace avpn::config
