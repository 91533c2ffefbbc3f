// Reads the keys of one TOML table. Every getter marks its key as known and
// reports a wrong type or a bad value; finish() then reports every key nobody
// asked for, so a typo can never silently disable a setting. Keys whose value
// was bad are remembered (bad()), so later checks can skip instead of piling
// consequential errors on top.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/config/values.hpp"

namespace avpn::config {

class Fields {
public:
    Fields(const ValueCtx& ctx, const Node& table, std::string path);

    const std::string& path() const { return path_; }
    std::string path(std::string_view key) const { return join_path(path_, key); }
    SourceLoc loc() const { return ctx_.loc(table_); }
    SourceLoc loc(std::string_view key) const;  // the value's position, or the table's
    const ValueCtx& ctx() const { return ctx_; }
    const Node& table() const { return table_; }
    const std::set<std::string>& bad_keys() const { return bad_; }

    // Marks key known; nullptr when absent. With required, absence is an error.
    const Node* get(std::string_view key, bool required = false);
    bool has(std::string_view key) const { return table_.find(key) != nullptr; }
    bool bad(std::string_view key) const { return bad_.count(std::string(key)) != 0; }
    void mark_bad(std::string_view key) { bad_.insert(std::string(key)); }
    // Reports an error at key's value (or the table) under path(key).
    void error(std::string_view key, std::string message);

    std::optional<std::string> str(std::string_view key, bool required = false);
    std::optional<std::string> name(std::string_view key, bool required = false);
    std::optional<std::string> ifname(std::string_view key);
    std::optional<bool> boolean(std::string_view key);
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max);
    std::optional<Prefix> prefix(std::string_view key);
    std::optional<IpAddr> address(std::string_view key);
    std::optional<std::chrono::seconds> duration(std::string_view key);
    std::optional<uint64_t> size(std::string_view key, uint64_t min, uint64_t max);

    // An array whose items are read by `item` (path "key[i]"). Failed items
    // are left out and mark the key bad. nullopt when absent or not an array.
    template <class T>
    std::optional<std::vector<T>> list(
        std::string_view key, const std::function<std::optional<T>(const Node&, const std::string&)>& item);
    std::optional<std::vector<std::string>> strings(std::string_view key);
    std::optional<std::vector<std::string>> names(std::string_view key);
    std::optional<std::vector<Prefix>> prefixes(std::string_view key);

    // One of a fixed set of words, e.g. role = "hub" | "spoke" | "off".
    template <class E>
    std::optional<E> choice(std::string_view key, std::initializer_list<std::pair<std::string_view, E>> words);

    // Reports unknown keys. noun: "key" or "section". A key close to one
    // asked for ("did you mean") marks that one bad.
    void finish(std::string_view noun = "key");

private:
    template <class T>
    std::optional<T> checked(std::string_view key, std::optional<T> v);
    bool is_array(std::string_view key, const Node& n);
    std::string choice_error(std::string_view got, const std::vector<std::string_view>& words) const;

    const ValueCtx& ctx_;
    const Node& table_;
    std::string path_;
    std::set<std::string, std::less<>> known_;
    std::set<std::string> bad_;
};

template <class T>
std::optional<T> Fields::checked(std::string_view key, std::optional<T> v) {
    if (!v) mark_bad(key);
    return v;
}

template <class T>
std::optional<std::vector<T>> Fields::list(
    std::string_view key, const std::function<std::optional<T>(const Node&, const std::string&)>& item) {
    const Node* n = get(key);
    if (!n || !is_array(key, *n)) return std::nullopt;
    std::vector<T> out;
    out.reserve(n->items.size());
    for (size_t i = 0; i < n->items.size(); ++i) {
        auto v = item(n->items[i], index_path(path(key), i));
        if (v)
            out.push_back(std::move(*v));
        else
            mark_bad(key);
    }
    return out;
}

template <class E>
std::optional<E> Fields::choice(std::string_view key,
                                std::initializer_list<std::pair<std::string_view, E>> words) {
    auto text = str(key);
    if (!text) return std::nullopt;
    std::vector<std::string_view> all;
    for (const auto& [word, value] : words) {
        if (*text == word) return value;
        all.push_back(word);
    }
    error(key, choice_error(*text, all));
    mark_bad(key);
    return std::nullopt;
}

}  // namespace avpn::config
