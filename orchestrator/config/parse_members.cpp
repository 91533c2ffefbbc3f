// A group's member list: a file of [[member]] tables named by
// `members = "corp-members.toml"`, or inline [[autovpn.member]] tables; each
// may start with the group's header ([group], inline [autovpn.header]).
#include <unordered_map>

#include "common/crypto.hpp"
#include "orchestrator/config/loader.hpp"

namespace avpn::config {

namespace {

struct Seen {
    std::unordered_map<std::string, SourceLoc> names;
    std::unordered_map<std::string, std::pair<std::string, SourceLoc>> keys;  // key -> member name
};

std::optional<std::string> read_public_key(Fields& f) {
    auto key = f.str("public_key", true);
    if (!key) return std::nullopt;
    if (!crypto::base64_decode_key(*key)) {
        f.error("public_key", "not a base64 X25519 public key (44 characters encoding 32 bytes, as `wg pubkey` prints)");
        f.mark_bad("public_key");
        return std::nullopt;
    }
    return key;
}

void check_unique(Loader& l, Seen& seen, const Member& m, const Where& w) {
    if (m.name.empty()) return;
    auto [it, fresh] = seen.names.emplace(m.name, m.loc);
    if (!fresh)
        l.diag.error(w.loc("name"), w.field("name"),
                     "duplicate member \"" + m.name + "\"; first listed at " + it->second.str());
    if (m.public_key.empty() || !fresh) return;
    auto [kt, key_fresh] = seen.keys.emplace(m.public_key, std::make_pair(m.name, m.loc));
    if (!key_fresh)
        l.diag.error(w.loc("public_key"), w.field("public_key"),
                     "members \"" + kt->second.first + "\" and \"" + m.name +
                         "\" have the same public key; every site needs its own key");
}

void parse_member(Loader& l, MemberList& list, Group& g, Seen& seen, const ValueCtx& c, const SectionTable& t) {
    Fields f(c, *t.table, t.path);
    Member m;
    m.loc = f.loc();
    if (auto v = f.name("name", true)) m.name = *v;
    if (auto v = read_role(f)) m.role = *v;
    if (auto v = read_public_key(f)) m.public_key = *v;
    if (auto v = f.prefixes("exports")) m.exports = *v;
    if (auto v = read_hub_refs(f, "hubs")) m.hubs = *v;
    if (auto v = f.names("exit_hubs")) m.exit_hubs = *v;
    if (const Node* n = f.get("contact")) {
        m.contact = read_endpoint(c, *n, f.path("contact"), std::nullopt);
        if (!m.contact) f.mark_bad("contact");
    }
    m.tunnel_address = f.address("tunnel_address");
    if (auto v = f.integer("paths", 1, kMaxPaths)) m.paths = uint8_t(*v);
    f.finish();

    Where w = Where::of(f);
    if (f.bad_keys().count("role") == 0 && f.has("role"))
        check_role_keys(l.diag, m.role, w, m.hubs.size(), m.exports.size(), "exports");
    check_unique(l, seen, m, w);
    if (!m.name.empty() && m.name == l.intent.site.name) {
        g.self_contact = m.contact;  // what the other members use to reach this site
        g.self_paths = m.paths;
        list.self = std::move(m);
        list.self_where = std::move(w);
        return;
    }
    g.members.push_back(std::move(m));
    list.where.push_back(std::move(w));
}

void parse_members(Loader& l, MemberList& list, Group& g, const ValueCtx& c, const Node& value,
                   const std::string& name) {
    Seen seen;
    std::vector<SectionTable> tables = section_tables(c, value, name);
    g.members.reserve(tables.size());
    list.where.reserve(tables.size());
    for (const SectionTable& t : tables) parse_member(l, list, g, seen, c, t);
}

void parse_header(const ValueCtx& c, const Node& n, const std::string& path, GroupHeader& h) {
    if (!n.is_table()) {
        c.error(n, path, "expected the table [" + path + "] (the group's name and settings), found " +
                             std::string(type_name(n.type)));
        return;
    }
    Fields f(c, n, path);
    if (auto v = f.name("name", true)) h.name = *v;
    h.tunnel_subnet = f.prefix("tunnel_subnet");
    h.transport = read_transport(f);
    h.shortcuts = f.boolean("shortcuts");
    f.finish();
    h.where = Where::of(f);
    h.present = true;
}

void load_member_file(Loader& l, GroupState& st, Group& g, Fields& gf) {
    auto rel = gf.str("members");
    if (!rel) return;
    g.members_file = l.resolve(*rel);
    auto text = l.files.read_text(g.members_file);
    if (!text) {
        gf.error("members", with_normal_path(text.error().why.empty() ? "cannot read " + g.members_file : text.error().why,
                                             g.members_file));
        return;
    }
    const std::string& file = l.keep_name(normal_path(g.members_file));
    ParsedDoc doc = parse_toml(*text, file);
    if (doc.error) {
        l.diag.error(loc_at(file, doc.error->pos), "syntax", doc.error->message);
        return;
    }
    const Node& root = l.docs.emplace_back(std::move(*doc.root));
    ValueCtx c = l.ctx_for(file);
    Fields top(c, root, "");
    const Node* members = top.get("member");
    const Node* header = top.get("group");
    top.finish("section");
    st.members.file = file;
    if (header) parse_header(c, *header, "group", st.members.header);
    if (members) parse_members(l, st.members, g, c, *members, "member");
    st.members.loaded = true;
}

}  // namespace

void load_member_file_alone(Loader& l, MemberList& list, Group& g) {
    auto text = l.files.read_text(l.file);
    if (!text) {
        l.diag.error(loc_at(l.file, Pos{}), "file", with_normal_path(text.error().why, l.file));
        return;
    }
    ParsedDoc doc = parse_toml(*text, l.file);
    if (doc.error) {
        l.diag.error(loc_at(l.file, doc.error->pos), "syntax", doc.error->message);
        return;
    }
    const Node& root = l.docs.emplace_back(std::move(*doc.root));
    ValueCtx c = l.ctx();
    Fields top(c, root, "");
    const Node* members = top.get("member");
    const Node* header = top.get("group");
    top.finish("section");
    list.file = l.file;
    if (header) parse_header(c, *header, "group", list.header);
    if (!list.header.present || list.header.name.empty())
        l.diag.error(loc_at(l.file, Pos{1, 1}), "group.name",
                     "a member list read on its own needs its [group] table with the group's name (which group it is for)");
    if (members) parse_members(l, list, g, c, *members, "member");
    list.loaded = true;
}

void load_member_list(Loader& l, GroupState& st, Group& g, Fields& gf) {
    bool from_file = gf.has("members"), inline_tables = gf.has("member");
    if (from_file && inline_tables) {
        gf.get("member");
        gf.error("members", "set either members (a member list file) or inline member tables, not both");
        gf.get("members");
        return;
    }
    if (from_file && gf.has("header")) {
        gf.get("header");
        gf.error("header", "a member list file carries its group header itself, as a [group] table in that file; [" +
                               gf.path("header") + "] is for inline member tables");
        gf.mark_bad("header");
    }
    if (from_file) return load_member_file(l, st, g, gf);
    st.members.file = l.file;
    st.members.loaded = true;
    g.members_file = l.file;
    if (const Node* header = gf.get("header")) parse_header(gf.ctx(), *header, gf.path("header"), st.members.header);
    if (inline_tables) parse_members(l, st.members, g, gf.ctx(), *gf.get("member"), gf.path("member"));
}

namespace {

std::string quoted(const std::string& s) { return "\"" + shown(s) + "\""; }

// A site value that differs from the header's: an error at the site's value
// naming the header's, then neither is used by later checks.
void report_differs(Fields& f, GroupHeader& h, std::string_view key, const std::string& site_value,
                    const std::string& header_value) {
    f.error(key, quoted(site_value) + " differs from " + quoted(header_value) + " set by the group header (" +
                     h.where.field(key) + " at " + h.where.loc(key).str() + "); every member uses the header's " +
                     std::string(key) + ": remove it here or make it equal");
    f.mark_bad(key);
    h.where.bad.insert(std::string(key));
}

}  // namespace

void apply_group_header(Loader& l, GroupState& st, Group& g, Fields& f) {
    GroupHeader& h = st.members.header;
    if (!h.present) return;
    if (!h.name.empty() && !g.name.empty() && h.name != g.name)
        l.diag.error(h.where.loc("name"), h.where.field("name"),
                     "this member list is for group " + quoted(h.name) + " but " + f.path("group") + " at " +
                         f.loc("group").str() + " is " + quoted(g.name) +
                         "; a site reads the member list of the group it joins");
    if (h.tunnel_subnet) {
        if (f.has("tunnel_subnet") && !f.bad("tunnel_subnet") && g.tunnel_subnet != *h.tunnel_subnet)
            report_differs(f, h, "tunnel_subnet", g.tunnel_subnet.str(), h.tunnel_subnet->str());
        g.tunnel_subnet = *h.tunnel_subnet;
    }
    if (h.transport) {
        if (f.has("transport") && !f.bad("transport") && g.transport != *h.transport)
            report_differs(f, h, "transport", std::string(to_string(g.transport)), std::string(to_string(*h.transport)));
        g.transport = *h.transport;
    }
    if (h.shortcuts) {
        if (f.has("shortcuts") && !f.bad("shortcuts") && g.shortcuts != *h.shortcuts)
            report_differs(f, h, "shortcuts", g.shortcuts ? "true" : "false", *h.shortcuts ? "true" : "false");
        g.shortcuts = *h.shortcuts;
    }
}

}  // namespace avpn::config
