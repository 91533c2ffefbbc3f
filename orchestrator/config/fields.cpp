#include "orchestrator/config/fields.hpp"

#include <algorithm>

namespace avpn::config {

namespace {

constexpr size_t kMaxSuggestedKey = 64;

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string joined(const std::vector<std::string_view>& words) {
    std::string s;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i) s += i + 1 == words.size() ? " or " : ", ";
        s += "\"" + std::string(words[i]) + "\"";
    }
    return s;
}

}  // namespace

Fields::Fields(const ValueCtx& ctx, const Node& table, std::string path)
    : ctx_(ctx), table_(table), path_(std::move(path)) {}

SourceLoc Fields::loc(std::string_view key) const {
    const Node* n = table_.find(key);
    return ctx_.loc(n ? *n : table_);
}

const Node* Fields::get(std::string_view key, bool required) {
    known_.insert(std::string(key));
    const Node* n = table_.find(key);
    if (!n && required) {
        ctx_.diag.error(loc(), path(key), "missing required key \"" + std::string(key) + "\"");
        mark_bad(key);
    }
    return n;
}

void Fields::error(std::string_view key, std::string message) {
    ctx_.diag.error(loc(key), path(key), std::move(message));
}

bool Fields::is_array(std::string_view key, const Node& n) {
    if (n.is_array()) return true;
    error(key, "expected an array, found " + std::string(type_name(n.type)));
    mark_bad(key);
    return false;
}

std::optional<std::string> Fields::str(std::string_view key, bool required) {
    const Node* n = get(key, required);
    return n ? checked(key, read_string(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<std::string> Fields::name(std::string_view key, bool required) {
    const Node* n = get(key, required);
    return n ? checked(key, read_name(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<std::string> Fields::ifname(std::string_view key) {
    const Node* n = get(key);
    return n ? checked(key, read_ifname(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<bool> Fields::boolean(std::string_view key) {
    const Node* n = get(key);
    return n ? checked(key, read_bool(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<int64_t> Fields::integer(std::string_view key, int64_t min, int64_t max) {
    const Node* n = get(key);
    return n ? checked(key, read_int(ctx_, *n, path(key), min, max)) : std::nullopt;
}

std::optional<Prefix> Fields::prefix(std::string_view key) {
    const Node* n = get(key);
    return n ? checked(key, read_prefix(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<IpAddr> Fields::address(std::string_view key) {
    const Node* n = get(key);
    return n ? checked(key, read_address(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<std::chrono::seconds> Fields::duration(std::string_view key) {
    const Node* n = get(key);
    return n ? checked(key, read_duration(ctx_, *n, path(key))) : std::nullopt;
}

std::optional<uint64_t> Fields::size(std::string_view key, uint64_t min, uint64_t max) {
    const Node* n = get(key);
    return n ? checked(key, read_size(ctx_, *n, path(key), min, max)) : std::nullopt;
}

std::optional<std::vector<std::string>> Fields::strings(std::string_view key) {
    return list<std::string>(key, [&](const Node& n, const std::string& p) { return read_string(ctx_, n, p); });
}

std::optional<std::vector<std::string>> Fields::names(std::string_view key) {
    return list<std::string>(key, [&](const Node& n, const std::string& p) { return read_name(ctx_, n, p); });
}

std::optional<std::vector<Prefix>> Fields::prefixes(std::string_view key) {
    return list<Prefix>(key, [&](const Node& n, const std::string& p) { return read_prefix(ctx_, n, p); });
}

std::string Fields::choice_error(std::string_view got, const std::vector<std::string_view>& words) const {
    return "\"" + shown(got) + "\" is not one of " + joined(words);
}

void Fields::finish(std::string_view noun) {
    for (const Entry& e : table_.entries) {
        if (known_.count(e.key)) continue;
        std::string_view best;
        size_t best_distance = 3;  // suggest only close matches
        // No known key is this long, so none is within 2 edits: skip the
        // quadratic distance work a huge key would cost.
        if (e.key.size() <= kMaxSuggestedKey)
            for (const std::string& k : known_) {
                size_t d = edit_distance(e.key, k);
                if (d < best_distance) best_distance = d, best = k;
            }
        bool table = e.value.is_table() || e.value.is_array();
        std::string msg = noun == "section" && !table
                              ? "unknown top-level key \"" + shown(e.key) + "\" (keys belong inside a section such as [site])"
                              : "unknown " + std::string(noun) + " \"" + shown(e.key) + "\"";
        if (!best.empty()) {
            msg += "; did you mean \"" + std::string(best) + "\"?";
            // The key it was probably meant as has no trustworthy value now:
            // checks of that key skip rather than report a consequence.
            mark_bad(best);
        }
        else if (!known_.empty()) {
            std::vector<std::string_view> all(known_.begin(), known_.end());
            msg += "; expected one of " + joined(all);
        }
        ctx_.diag.error(loc_at(ctx_.file, e.pos), path(shown(e.key)), msg);
    }
}

}  // namespace avpn::config
