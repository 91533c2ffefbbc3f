#include "orchestrator/config/loader.hpp"

#include <unordered_set>

namespace avpn::config {

Where Where::of(const Fields& f) {
    Where w;
    w.file = &f.ctx().file;
    w.table = &f.table();
    w.path = f.path();
    w.bad.insert(f.bad_keys().begin(), f.bad_keys().end());
    return w;
}

SourceLoc Where::loc() const {
    if (!file) return {};
    return loc_at(*file, table ? table->pos : Pos{});
}

SourceLoc Where::loc(std::string_view key) const {
    const Node* n = table ? table->find(key) : nullptr;
    return n ? loc_at(*file, n->pos) : loc();
}

SourceLoc Where::item_loc(std::string_view key, size_t i) const {
    const Node* n = table ? table->find(key) : nullptr;
    if (n && n->is_array() && i < n->items.size()) return loc_at(*file, n->items[i].pos);
    return loc(key);
}

bool Loader::vlan_declared(std::string_view name) const {
    for (const Where& w : vlans) {
        const Node* n = w.table->find("name");
        if (n && n->type == Node::Type::string && n->text == name) return true;
    }
    return false;
}

const Vlan* Loader::vlan(std::string_view name) const {
    for (const Vlan& v : intent.vlans)
        if (v.name == name) return &v;
    return nullptr;
}

std::string Loader::unknown_vlan(std::string_view name) const {
    std::string known;
    std::set<std::string_view> seen;
    for (const Vlan& v : intent.vlans)
        if (!v.name.empty() && seen.insert(v.name).second) known += (known.empty() ? "" : ", ") + v.name;
    return "no [[vlan]] named \"" + std::string(name) + "\" (" +
           (known.empty() ? std::string("none are defined") : "defined: " + known) + ")";
}

std::vector<SectionTable> section_tables(const ValueCtx& c, const Node& value, const std::string& name) {
    std::vector<SectionTable> out;
    if (value.is_table()) {
        out.push_back({&value, name});
        return out;
    }
    if (!value.is_array()) {
        c.error(value, name, "expected a section [" + name + "] or [[" + name + "]], found " +
                                 std::string(type_name(value.type)));
        return out;
    }
    for (size_t i = 0; i < value.items.size(); ++i) {
        const Node& item = value.items[i];
        if (item.is_table())
            out.push_back({&item, index_path(name, i)});
        else
            c.error(item, index_path(name, i), "expected a table, found " + std::string(type_name(item.type)));
    }
    return out;
}

std::optional<Role> read_role(Fields& f) {
    auto role = f.choice<Role>("role", {{"hub", Role::hub}, {"spoke", Role::spoke}, {"off", Role::off}});
    if (!role && !f.has("role")) f.error("role", "missing required key \"role\" (\"hub\", \"spoke\" or \"off\")");
    return role;
}

std::string with_normal_path(std::string text, const std::string& path) {
    const std::string shown = normal_path(path);
    if (path.empty() || shown == path) return text;
    for (size_t at = text.find(path); at != std::string::npos; at = text.find(path, at + shown.size()))
        text.replace(at, path.size(), shown);
    return text;
}

std::optional<Transport> read_transport(Fields& f) {
    return f.choice<Transport>("transport", {{"wireguard", Transport::wireguard}, {"xfrm", Transport::xfrm}});
}

std::optional<Secret> read_secret_at(Loader& l, Fields& f, std::string_view key, std::string* resolved) {
    auto rel = f.str(key);
    if (!rel) return std::nullopt;
    if (rel->empty()) {
        f.error(key, "the file name is empty");
        f.mark_bad(key);
        return std::nullopt;
    }
    *resolved = l.resolve(*rel);
    auto secret = l.files.read_secret(*resolved);
    if (!secret) {
        f.error(key, with_normal_path(secret.error().why, *resolved));
        f.mark_bad(key);
        return std::nullopt;
    }
    return std::move(*secret);
}

void check_role_keys(Diag& d, Role role, const Where& w, size_t hubs, size_t exported, std::string_view export_key) {
    if (role == Role::hub && w.has("hubs"))
        d.error(w.loc("hubs"), w.field("hubs"),
                "a hub does not list hubs: hubs connect to every other hub (exit_hubs sends its "
                "default route through another hub)");
    if (role != Role::spoke) return;
    if (w.has("exit_hubs"))
        d.error(w.loc("exit_hubs"), w.field("exit_hubs"),
                "exit_hubs is for hubs; a spoke sends its default route through a hub listed in hubs "
                "with default_route = true");
    if (hubs == 0 && w.ok("hubs")) d.error(w.loc("hubs"), w.field("hubs"), "a spoke needs at least one hub");
    if (exported == 0 && w.ok(export_key))
        d.error(w.loc(export_key), w.field(export_key),
                export_key == "exports" ? "a spoke must export at least one prefix"
                                        : "a spoke needs at least one permitted VLAN (the VLANs it shares with the group)");
}

namespace {

std::optional<HubRef> read_hub_ref(Fields& list_owner, const Node& n, const std::string& path) {
    const ValueCtx& c = list_owner.ctx();
    if (n.type == Node::Type::string) {
        auto name = read_name(c, n, path);
        if (!name) return std::nullopt;
        return HubRef{*name, false, c.loc(n)};
    }
    if (!n.is_table()) {
        c.error(n, path, "expected a hub name or { name = \"...\", default_route = true|false }, found " +
                             std::string(type_name(n.type)));
        return std::nullopt;
    }
    Fields f(c, n, path);
    auto name = f.name("name", true);
    auto full = f.boolean("default_route");
    f.finish();
    if (!name || !f.bad_keys().empty()) return std::nullopt;
    return HubRef{*name, full.value_or(false), c.loc(n)};
}

}  // namespace

std::optional<std::vector<HubRef>> read_hub_refs(Fields& f, std::string_view key) {
    auto refs = f.list<HubRef>(key, [&](const Node& n, const std::string& p) { return read_hub_ref(f, n, p); });
    if (!refs || f.bad(key)) return refs;
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < refs->size(); ++i)
        if (!seen.insert((*refs)[i].name).second) {
            f.ctx().diag.error((*refs)[i].loc, index_path(f.path(key), i),
                               "hub \"" + (*refs)[i].name + "\" is listed twice");
            f.mark_bad(key);
        }
    return refs;
}

}  // namespace avpn::config
