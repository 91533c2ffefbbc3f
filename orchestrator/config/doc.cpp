// The only translation unit that includes toml++. Debian's libtomlplusplus is
// built with exceptions, so its exported parse() lives in the `ex` ABI
// namespace; we want the non-throwing parse_result API, so this file compiles
// toml++ header-only with TOML_EXCEPTIONS=0 (its own `noex` ABI namespace,
// no clash with the shared library).
#include "orchestrator/config/doc.hpp"
#include "orchestrator/config/toml_prescan.hpp"

#include <toml++/toml.h>

#include <algorithm>

namespace avpn::config {

namespace {

Pos pos_of(const toml::source_region& r) { return Pos{int(r.begin.line), int(r.begin.column)}; }

Node convert(const toml::node& n);

Node convert_table(const toml::table& t) {
    Node out;
    out.type = Node::Type::table;
    out.pos = pos_of(t.source());
    out.entries.reserve(t.size());
    for (const auto& [key, value] : t) {
        Pos key_pos = pos_of(key.source());
        Node v = convert(value);
        if (key_pos.line == 0) key_pos = v.pos;
        out.entries.push_back(Entry{std::string(key.str()), key_pos, std::move(v)});
    }
    // toml++ keeps keys in a sorted map; restore document order so errors
    // come out top to bottom.
    std::stable_sort(out.entries.begin(), out.entries.end(), [](const Entry& a, const Entry& b) {
        return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
    });
    return out;
}

Node convert(const toml::node& n) {
    if (const toml::table* t = n.as_table()) return convert_table(*t);
    Node out;
    out.pos = pos_of(n.source());
    if (const toml::array* a = n.as_array()) {
        out.type = Node::Type::array;
        out.items.reserve(a->size());
        for (const toml::node& item : *a) out.items.push_back(convert(item));
    } else if (const toml::value<std::string>* s = n.as_string()) {
        out.type = Node::Type::string;
        out.text = s->get();
    } else if (n.is_integer()) {
        out.type = Node::Type::integer;
        out.integer = n.as_integer()->get();
    } else if (n.is_floating_point()) {
        out.type = Node::Type::floating;
        out.floating = n.as_floating_point()->get();
    } else if (n.is_boolean()) {
        out.type = Node::Type::boolean;
        out.boolean = n.as_boolean()->get();
    } else if (n.is_date()) {
        out.type = Node::Type::date;
    } else if (n.is_time()) {
        out.type = Node::Type::time;
    } else {
        out.type = Node::Type::datetime;
    }
    return out;
}

}  // namespace

const Node* Node::find(std::string_view key) const {
    for (const Entry& e : entries)
        if (e.key == key) return &e.value;
    return nullptr;
}

std::string_view type_name(Node::Type t) {
    switch (t) {
        case Node::Type::table: return "a table";
        case Node::Type::array: return "an array";
        case Node::Type::string: return "a string";
        case Node::Type::integer: return "an integer";
        case Node::Type::floating: return "a floating-point number";
        case Node::Type::boolean: return "a boolean";
        case Node::Type::date: return "a date";
        case Node::Type::time: return "a time";
        case Node::Type::datetime: return "a date-time";
    }
    return "a value";
}

ParsedDoc parse_toml(std::string_view text, const std::string& path) {
    ParsedDoc out;
    if (auto unsafe = find_unsafe_non_ascii(text)) {
        out.error = std::move(unsafe);
        return out;
    }
    toml::parse_result r = toml::parse(text, std::string_view(path));
    if (!r) {
        const toml::parse_error& e = r.error();
        out.error = SyntaxError{pos_of(e.source()), std::string(e.description())};
        return out;
    }
    out.root = convert_table(r.table());
    return out;
}

}  // namespace avpn::config
