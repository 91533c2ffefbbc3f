// A parsed TOML document with the source position of every key and value.
// toml++ is confined to doc.cpp (compiled header-only with exceptions off, see
// CMakeLists.txt); the loader walks this small tree instead, so it never sees
// a toml++ type and nothing in it can throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace avpn::config {

struct Pos {
    int line = 0;
    int column = 0;
};

struct Entry;

struct Node {
    enum class Type { table, array, string, integer, floating, boolean, date, time, datetime };

    Type type = Type::table;
    Pos pos;
    std::string text;        // string
    int64_t integer = 0;     // integer
    double floating = 0;     // floating
    bool boolean = false;    // boolean
    std::vector<Entry> entries;  // table, in document order
    std::vector<Node> items;     // array

    bool is_table() const { return type == Type::table; }
    bool is_array() const { return type == Type::array; }
    const Node* find(std::string_view key) const;
};

struct Entry {
    std::string key;
    Pos pos;  // where the key is written
    Node value;
};

// "a table", "an integer", ... for messages.
std::string_view type_name(Node::Type);

struct SyntaxError {
    Pos pos;
    std::string message;
};

struct ParsedDoc {
    std::optional<Node> root;  // set on success
    std::optional<SyntaxError> error;
};

ParsedDoc parse_toml(std::string_view text, const std::string& path);

}  // namespace avpn::config
