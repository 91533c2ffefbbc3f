#include "orchestrator/runtime/firewall_apply.hpp"

#include <algorithm>

#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/stable_hash.hpp"

namespace avpn::runtime {

namespace {

// applied_text: "<sha256 of the contents> <sha256 of the normalized
// listing>\n", in hex: a 10,000-member table's texts are megabytes, and
// only their equality is ever asked.
std::string digest(std::string_view text) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (uint8_t b : planner::sha256(text)) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

std::string contents_part(const std::string& applied_text) { return applied_text.substr(0, applied_text.find(' ')); }

std::string listing_part(const std::string& applied_text) {
    size_t sp = applied_text.find(' ');
    if (sp == std::string::npos) return "";
    std::string rest = applied_text.substr(sp + 1);
    while (!rest.empty() && rest.back() == '\n') rest.pop_back();
    return rest;
}

Result<std::string> normalized_now(fw::TablePort& table) {
    auto listing = table.read();
    if (!listing) return listing.error();
    return fw::normalized_listing(*listing);
}

}  // namespace

FirewallOutcome install_firewall(fw::TablePort& table, const std::optional<fw::FirewallTable>& want,
                                 const std::string& last, bool dry_run) {
    FirewallOutcome o;
    std::string contents;
    if (want) {
        o.rules = want->forward.size() + want->rules.size() + want->input.size();
        o.sets = want->sets.size();
        for (const fw::Set& s : want->sets) o.elements += s.elements.size();
        // The shortcut watch: per family it has, a map and two rules.
        for (Family f : {Family::v4, Family::v6}) {
            size_t n = 0;
            for (const fw::ShortcutWatch& w : want->shortcut_watch)
                n += size_t(std::count_if(w.prefixes.begin(), w.prefixes.end(),
                                          [&](const Prefix& p) { return p.family() == f; }));
            if (n == 0) continue;
            o.sets += 1;
            o.rules += 2;
            o.elements += n;
        }
        contents = fw::render_firewall_json(*want);
    }
    auto present = table.present();
    if (!present) return o.failure = present.error(), o;
    if (*present) {
        auto listing = table.read();
        if (!listing) return o.failure = listing.error(), o;
        if (want && !last.empty() && contents_part(last) == digest(contents)) {
            auto normalized = fw::normalized_listing(*listing);
            if (!normalized) return o.failure = normalized.error(), o;
            if (digest(*normalized) == listing_part(last)) {
                o.unchanged = true;
                o.applied_text = last;
                return o;
            }
        }
        auto previous = fw::contents_of_listing(*listing);
        if (!previous) return o.failure = previous.error(), o;
        o.previous = std::move(*previous);
    }
    if (!want) {
        if (!*present || dry_run) return o;
        if (Status s = table.remove(); !s) return o.failure = s.error(), o;
        o.removed = true;
        return o;
    }
    if (dry_run) return o;
    if (Status s = table.replace(contents); !s) return o.failure = s.error(), o;
    o.replaced = true;
    auto normalized = normalized_now(table);
    // The table is in; only its record for the next apply is missing, so
    // that apply rewrites it rather than skipping it.
    o.applied_text = normalized ? digest(contents) + " " + digest(*normalized) + "\n" : "";
    return o;
}

void undo_firewall(fw::TablePort& table, FirewallOutcome& o) {
    if (!o.changed() || o.undone) return;
    Status s = o.previous ? table.replace(*o.previous) : table.remove();
    if (!s) o.undo_failure = s.error();
    o.undone = true;
    o.applied_text.clear();
}

std::optional<std::string> firewall_drift(fw::TablePort& table, const std::string& applied_text) {
    auto present = table.present();
    if (!present) return "table inet avpn cannot be listed: " + present.error().str();
    if (!*present) return "table inet avpn is missing";
    auto normalized = normalized_now(table);
    if (!normalized) return "table inet avpn cannot be read: " + normalized.error().str();
    if (digest(*normalized) != listing_part(applied_text)) return "table inet avpn differs from the last apply";
    return std::nullopt;
}

}  // namespace avpn::runtime
