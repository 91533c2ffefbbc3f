#include "orchestrator/config/load.hpp"

#include <algorithm>
#include <tuple>

#include "orchestrator/config/loader.hpp"

namespace avpn {

namespace {

using namespace config;

void parse_document(Loader& l, const Node& root) {
    ValueCtx c = l.ctx();
    Fields top(c, root, "");
    if (const Node* site = top.get("site")) {
        if (site->is_table())
            parse_site(l, *site);
        else
            c.error(*site, "site", "expected the section [site], found " + std::string(type_name(site->type)));
    } else {
        l.diag.error(loc_at(l.file, Pos{1, 1}), "site", "missing required section [site]");
    }
    if (const Node* n = top.get("vlan")) parse_vlans(l, *n);
    if (const Node* n = top.get("autovpn")) parse_groups(l, *n);
    if (const Node* n = top.get("ipsec")) parse_ipsec(l, *n);
    if (const Node* n = top.get("firewall")) parse_firewall(l, *n);
    top.finish("section");
}

struct Place {
    std::string_view file;
    long line = 0, column = 0;
};

// "file:line:col" -> parts; a where without numbers is just a file.
Place place_of(std::string_view where) {
    auto number = [](std::string_view s, long& out) {
        if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
        out = std::stol(std::string(s));
        return true;
    };
    Place p{where};
    auto c2 = where.rfind(':');
    if (c2 == std::string_view::npos) return p;
    auto c1 = where.rfind(':', c2 == 0 ? 0 : c2 - 1);
    if (c1 == std::string_view::npos || c1 >= c2) return p;
    if (number(where.substr(c1 + 1, c2 - c1 - 1), p.line) && number(where.substr(c2 + 1), p.column))
        p.file = where.substr(0, c1);
    else
        p.line = p.column = 0;
    return p;
}

// Files in the order they first appear (the site file first), then top to bottom.
void sort_by_place(Errors& list) {
    std::vector<std::string_view> files;
    auto rank = [&](std::string_view f) {
        auto it = std::find(files.begin(), files.end(), f);
        if (it == files.end()) return files.push_back(f), files.size() - 1;
        return size_t(it - files.begin());
    };
    std::vector<std::tuple<size_t, long, long, size_t>> keys;
    for (size_t i = 0; i < list.size(); ++i) {
        Place p = place_of(list[i].where);
        keys.emplace_back(rank(p.file), p.line, p.column, i);
    }
    std::sort(keys.begin(), keys.end());
    Errors sorted;
    sorted.reserve(list.size());
    for (const auto& k : keys) sorted.push_back(std::move(list[std::get<3>(k)]));
    list = std::move(sorted);
}

void check_document(Loader& l) {
    check_vlans(l);
    for (size_t g = 0; g < l.intent.groups.size(); ++g) check_group(l, g);
    check_overlaps(l);
    check_between_groups(l);
    check_ipsec(l);
    check_firewall(l);
}

}  // namespace

LoadResult load_site_text(std::string_view toml, const std::string& path, const config::FileSource& files) {
    LoadResult out;
    Loader l(files, path);
    l.intent.file = path;
    ParsedDoc doc = parse_toml(toml, path);
    if (doc.error) {
        l.diag.error(loc_at(l.file, doc.error->pos), "syntax", doc.error->message);
    } else {
        const Node& root = l.docs.emplace_back(std::move(*doc.root));
        parse_document(l, root);
        check_document(l);
    }
    sort_by_place(l.diag.errors);
    sort_by_place(l.diag.warnings);
    out.errors = std::move(l.diag.errors);
    out.warnings = std::move(l.diag.warnings);
    sort_by_place(l.diag.not_acted_on);
    out.not_acted_on = std::move(l.diag.not_acted_on);
    sort_by_place(l.diag.needs_daemon);
    out.needs_daemon = std::move(l.diag.needs_daemon);
    if (out.errors.empty()) out.intent = std::move(l.intent);
    return out;
}

LoadResult load_site_text(std::string_view toml, const std::string& path) {
    return load_site_text(toml, path, system_files());
}

LoadResult load_site(const std::string& path) {
    auto text = system_files().read_text(path);
    if (!text) {
        LoadResult out;
        out.errors.push_back(Error{"file", config::normal_path(path), config::with_normal_path(text.error().why, path),
                                   text.error().code});
        return out;
    }
    return load_site_text(*text, path, system_files());
}

MemberListLoad load_member_list_file(const std::string& path, const config::FileSource& files) {
    MemberListLoad out;
    Loader l(files, path);
    MemberList list;
    Group g;
    load_member_file_alone(l, list, g);
    sort_by_place(l.diag.errors);
    out.errors = std::move(l.diag.errors);
    out.group = list.header.name;
    out.members = std::move(g.members);
    return out;
}

MemberListLoad load_member_list_file(const std::string& path) { return load_member_list_file(path, system_files()); }

std::string format_diagnostic(const Error& e, Severity severity) {
    std::string s = e.where.empty() ? std::string() : e.where + ": ";
    s += severity == Severity::error ? "error: " : "warning: ";
    s += e.what;
    if (!e.why.empty()) s += ": " + e.why;
    return s;
}

}  // namespace avpn
