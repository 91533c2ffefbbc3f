// [site] and [[vlan]].
#include <unordered_map>

#include "common/crypto.hpp"
#include "orchestrator/config/loader.hpp"

namespace avpn::config {

namespace {

// The private key never leaves this function: only its public half is kept.
void load_site_key(Loader& l, Fields& f) {
    Site& site = l.intent.site;
    auto secret = read_secret_at(l, f, "key_file", &site.key_file);
    if (!secret) return;
    auto key = crypto::base64_decode_key(secret->trimmed());
    if (!key) {
        f.error("key_file", normal_path(site.key_file) +
                                " does not hold a base64 X25519 private key (44 characters, as `wg genkey` writes it)");
        f.mark_bad("key_file");
        return;
    }
    auto pub = crypto::public_key(*key);
    crypto::wipe(key->data(), key->size());
    if (!pub) {
        f.error("key_file", "cannot derive the public key from " + normal_path(site.key_file));
        f.mark_bad("key_file");
        return;
    }
    site.public_key = crypto::base64_encode(pub->data(), pub->size());
    l.key_loaded = true;
}

void read_uplinks(Fields& f, Site& site) {
    auto names = f.list<std::string>(
        "uplinks", [&](const Node& n, const std::string& p) { return read_ifname(f.ctx(), n, p); });
    if (!names) {
        if (!f.has("uplinks")) f.error("uplinks", "missing required key \"uplinks\" (the WAN interfaces, in order of preference)");
        return;
    }
    if (names->empty() && !f.bad("uplinks")) f.error("uplinks", "at least one uplink (WAN interface) is needed");
    const Node* list = f.table().find("uplinks");
    for (size_t i = 0; i < names->size(); ++i) {
        bool exact = list->items.size() == names->size();  // uniqueness is checked with all interfaces
        site.uplinks.push_back(Uplink{(*names)[i], f.ctx().loc(exact ? list->items[i] : *list)});
    }
}

void read_nat(Fields& f, Site& site) {
    auto mode = f.choice<NatMode>("nat", {{"auto", NatMode::automatic}, {"manual", NatMode::manual}});
    auto address = f.address("public_address");
    if (mode) site.nat.mode = *mode;
    if (address) {
        if (!mode) site.nat.mode = NatMode::manual;  // a public address means a port forward
        if (site.nat.mode == NatMode::automatic)
            f.error("public_address", "public_address is only used with nat = \"manual\"");
        site.nat.public_address = address;
    } else if (site.nat.mode == NatMode::manual && !f.bad("public_address")) {
        f.error("nat", "nat = \"manual\" needs public_address (the address peers must use)");
    }
}

}  // namespace

void parse_site(Loader& l, const Node& table) {
    ValueCtx c = l.ctx();
    Fields f(c, table, "site");
    Site& site = l.intent.site;
    site.loc = f.loc();
    if (auto v = f.name("name", true)) site.name = *v;
    if (auto v = read_role(f)) site.role = *v;
    read_uplinks(f, site);
    if (auto v = f.boolean("failover")) site.failover = *v;
    // Following the uplinks (moving the tunnels when the one in use loses
    // its address) is avpnd's; a one-shot would pick one now and stay there.
    if (site.failover && site.uplinks.size() >= 2) {
        bool own = f.has("failover") && !f.bad("failover");
        l.diag.daemon_only(own ? f.loc("failover") : f.loc("uplinks"), own ? f.path("failover") : f.path("uplinks"),
                           "failover between " + std::to_string(site.uplinks.size()) +
                               " uplinks needs avpnd: it follows them and moves the tunnels; a one-shot apply "
                               "cannot; set failover = false to use only " + shown(site.uplinks.front().interface));
    }
    // Checked against the groups and the member lists in check_group.cpp:
    // every peer runs a tunnel per path, so the member list must say so.
    if (auto v = f.boolean("active_active")) site.active_active = *v;
    if (site.active_active && site.uplinks.size() < 2)
        f.error("active_active", "active_active spreads flows over two or more uplinks; [site] uplinks names " +
                                     std::to_string(site.uplinks.size()));
    else if (site.active_active && !site.failover)
        f.error("active_active", "active_active needs failover = true: a dead uplink's flows move to the others");
    else if (site.active_active && site.uplinks.size() > kMaxPaths)
        f.error("active_active", "active_active spreads flows over at most " + std::to_string(kMaxPaths) +
                                     " uplinks (a path each); [site] uplinks names " +
                                     std::to_string(site.uplinks.size()));
    read_nat(f, site);
    // Only a process that stays can answer scrapes: avpnd serves them, the
    // one-shot apply refuses the setting rather than ignore it.
    if (const Node* n = f.get("metrics")) {
        site.metrics = read_endpoint(f.ctx(), *n, f.path("metrics"), std::nullopt);
        if (site.metrics)
            l.diag.daemon_only(f.loc("metrics"), f.path("metrics"),
                               "metrics = \"" + site.metrics->str() +
                                   "\" needs avpnd: it serves the metrics, a one-shot apply exits and could not "
                                   "answer a scrape (remove metrics to apply without avpnd)");
    }
    if (f.get("key_file", true)) load_site_key(l, f);
    f.finish();
    l.site = Where::of(f);
}

namespace {

void read_subnets(Fields& f, Vlan& v) {
    bool one = f.has("subnet"), many = f.has("subnets");
    if (one && many) {
        f.error("subnets", "set either subnet or subnets, not both");
        f.get("subnet");
        f.get("subnets");
        return;
    }
    if (one) {
        if (auto p = f.prefix("subnet")) v.subnets.push_back(*p);
        return;
    }
    if (!many) {
        f.get("subnet", true);
        return;
    }
    auto list = f.prefixes("subnets");
    if (list) v.subnets = *list;
    if (list && list->empty()) f.error("subnets", "at least one subnet is needed");
}

void parse_vlan(Loader& l, const ValueCtx& c, const SectionTable& t, size_t) {
    Fields f(c, *t.table, t.path);
    Vlan v;
    v.loc = f.loc();
    if (auto x = f.name("name", true)) v.name = *x;
    if (auto x = f.integer("id", 1, 4094)) v.id = uint16_t(*x);
    read_subnets(f, v);
    if (auto x = f.boolean("shareable")) v.shareable = *x;
    if (auto x = f.ifname("interface")) v.interface = *x;
    f.finish();
    l.intent.vlans.push_back(std::move(v));
    l.vlans.push_back(Where::of(f));
}

}  // namespace

void parse_vlans(Loader& l, const Node& value) {
    parse_each(l, value, "vlan", parse_vlan);
}

}  // namespace avpn::config
