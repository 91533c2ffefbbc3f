// [[firewall]]: explicit allow/deny rules between local VLANs and AutoVPN
// peers. References (vlan:NAME, site:NAME) are resolved in check_firewall.
#include "orchestrator/config/loader.hpp"

namespace avpn::config {

namespace {

// "any", "vlan:<name>", "site:<name>" or a prefix; the names are checked later.
std::optional<std::string> read_endpoint_ref(Fields& f, std::string_view key) {
    const Node* n = f.get(key, true);
    if (!n) return std::nullopt;
    auto text = read_string(f.ctx(), *n, f.path(key));
    if (!text) {
        f.mark_bad(key);
        return std::nullopt;
    }
    std::string_view s = *text;
    if (s == "any") return text;
    for (std::string_view kind : {"vlan:", "site:"}) {
        if (s.substr(0, kind.size()) != kind) continue;
        if (valid_name(s.substr(kind.size()))) return text;
        f.error(key, "\"" + *text + "\": \"" + std::string(s.substr(kind.size())) + "\" is not a valid name");
        f.mark_bad(key);
        return std::nullopt;
    }
    if (s.find('/') != std::string_view::npos) {
        if (read_prefix(f.ctx(), *n, f.path(key))) return text;
        f.mark_bad(key);
        return std::nullopt;
    }
    f.error(key, "\"" + *text + "\" is not \"any\", \"vlan:<VLAN name>\", \"site:<member name>\" or a prefix");
    f.mark_bad(key);
    return std::nullopt;
}

void parse_rule(Loader& l, const ValueCtx& c, const SectionTable& t, size_t) {
    Fields f(c, *t.table, t.path);
    FwRule r;
    r.loc = f.loc();
    if (auto v = f.str("comment")) r.comment = *v;
    if (auto v = f.choice<FwAction>("action", {{"allow", FwAction::allow}, {"deny", FwAction::deny}})) r.action = *v;
    if (auto v = read_endpoint_ref(f, "from")) r.from = *v;
    if (auto v = read_endpoint_ref(f, "to")) r.to = *v;
    if (auto v = f.choice<std::string>("protocol", {{"any", "any"}, {"tcp", "tcp"}, {"udp", "udp"}, {"icmp", "icmp"}}))
        r.protocol = *v;
    auto ports = f.list<uint16_t>("ports", [&](const Node& n, const std::string& p) -> std::optional<uint16_t> {
        auto v = read_int(c, n, p, 1, 65535);
        return v ? std::optional<uint16_t>(uint16_t(*v)) : std::nullopt;
    });
    if (ports) r.ports = *ports;
    if (f.has("ports") && r.protocol != "tcp" && r.protocol != "udp" && !f.bad("protocol"))
        f.error("ports", "ports need protocol = \"tcp\" or \"udp\" (this rule's protocol is \"" + r.protocol + "\")");
    f.finish();
    l.intent.firewall.push_back(std::move(r));
    l.firewall.push_back(Where::of(f));
}

}  // namespace

void parse_firewall(Loader& l, const Node& value) {
    parse_each(l, value, "firewall", parse_rule);
}

}  // namespace avpn::config
