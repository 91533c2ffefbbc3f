#include "plugins/firewall/nft_batch.hpp"

#include <jansson.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <memory>

namespace avpn::fw {
namespace {

struct JsonFree {
    void operator()(json_t* j) const { json_decref(j); }
};
using Json = std::unique_ptr<json_t, JsonFree>;

// jansson is the parser libnftables reads its JSON with, so the check and
// nft cannot see two different documents; duplicate keys are refused, since
// jansson otherwise keeps the last one silently.
Result<Json> parse(std::string_view text, std::string_view what) {
    json_error_t err{};
    Json root(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &err));
    if (!root)
        return Error{std::string(what) + " is not JSON",
                     "line " + std::to_string(err.line) + " column " + std::to_string(err.column), err.text};
    return root;
}

std::string string_member(const json_t* obj, const char* key) {
    const char* s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

// "delete table ip nat", "add rule inet filter input", "flush ruleset":
// what a command names, as nft would print it, for the refusal.
std::string describe(std::string_view verb, std::string_view kind, const json_t* obj) {
    std::string s(verb);
    if (!kind.empty()) s += " " + std::string(kind);
    if (!json_is_object(obj)) return s;
    for (const char* key : {"family", "table", "chain", "name"})
        if (auto v = string_member(obj, key); !v.empty()) s += " " + v;
    return s;
}

Error refused(size_t index, const std::string& named, std::string why) {
    return Error{"firewall contents refused", "command " + std::to_string(index) + " (" + named + ")",
                 std::move(why)};
}

bool allowed_kind(std::string_view kind) {
    static constexpr std::array<std::string_view, 6> kinds{"set", "map", "chain", "rule", "counter", "element"};
    for (auto k : kinds)
        if (kind == k) return true;
    return false;
}

// One command of the contents: {"add": {KIND: {"family": "inet", "table": "avpn", ...}}}.
Status check_command(size_t index, const json_t* cmd) {
    if (!json_is_object(cmd) || json_object_size(cmd) != 1)
        return refused(index, "not a command", "a command is an object with one key, the verb");
    const char* verb = json_object_iter_key(json_object_iter(const_cast<json_t*>(cmd)));
    const json_t* body = json_object_get(cmd, verb);
    std::string kind;
    const json_t* obj = nullptr;
    if (json_is_object(body) && json_object_size(body) == 1) {
        kind = json_object_iter_key(json_object_iter(const_cast<json_t*>(body)));
        obj = json_object_get(body, kind.c_str());
    }
    std::string named = describe(verb, kind, obj);
    if (std::string_view(verb) != "add")
        return refused(index, named, "only add commands; avpn replaces its table whole and never deletes, "
                                     "flushes or changes anything else");
    if (!allowed_kind(kind))
        return refused(index, named, "only sets, maps, chains, rules, counters and elements of table inet avpn");
    if (!json_is_object(obj)) return refused(index, named, "the object is not a JSON object");
    if (string_member(obj, "family") != kOwnedFamily || string_member(obj, "table") != kOwnedTable)
        return refused(index, named, "outside table inet avpn, the only table avpn owns");
    return {};
}

json_t* table_command(const char* verb) {
    return json_pack("{s:{s:{s:s#,s:s#}}}", verb, "table", "family", kOwnedFamily.data(), int(kOwnedFamily.size()), "name",
                     kOwnedTable.data(), int(kOwnedTable.size()));
}

// jansson's builders return NULL only when out of memory; an empty batch
// would then run as nothing at all and look like success, so it is an error.
Result<std::string> dump(const json_t* root) {
    std::unique_ptr<char, decltype(&std::free)> text(root ? json_dumps(root, JSON_COMPACT) : nullptr, &std::free);
    if (!text) return Error{"write nftables batch", "table inet avpn", "out of memory", ENOMEM};
    return std::string(text.get());
}

// {"nftables": [...]} of a listing: its array, or an error naming the listing.
Result<const json_t*> listing(const Json& root, std::string_view what) {
    const json_t* items = json_object_get(root.get(), "nftables");
    if (!json_is_array(items)) return Error{std::string(what) + " has no nftables array", "", ""};
    return items;
}

}  // namespace

Result<std::string> replace_batch(std::string_view contents) {
    auto parsed = parse(contents, "firewall contents");
    if (!parsed) return parsed.error();
    const json_t* cmds = parsed->get();
    if (!json_is_array(cmds)) return Error{"firewall contents refused", "", "not a JSON array of commands"};
    for (size_t i = 0; i < json_array_size(cmds); ++i)
        if (auto st = check_command(i, json_array_get(cmds, i)); !st) return st.error();

    // json_pack fails whole if any part is NULL, so the table commands are
    // all there or there is no batch.
    Json root(json_pack("{s:[o,o,o]}", "nftables", table_command("add"), table_command("delete"),
                        table_command("add")));
    if (root && json_array_extend(json_object_get(root.get(), "nftables"), const_cast<json_t*>(cmds)) != 0)
        root.reset();
    return dump(root.get());
}

Result<std::string> remove_batch() {
    Json root(json_pack("{s:[o,o]}", "nftables", table_command("add"), table_command("delete")));
    return dump(root.get());
}

Result<bool> has_table(std::string_view list_tables_json) {
    auto parsed = parse(list_tables_json, "nft's table list");
    if (!parsed) return parsed.error();
    auto items = listing(*parsed, "nft's table list");
    if (!items) return items.error();
    for (size_t i = 0; i < json_array_size(*items); ++i) {
        const json_t* t = json_object_get(json_array_get(*items, i), "table");
        if (t && string_member(t, "family") == kOwnedFamily && string_member(t, "name") == kOwnedTable) return true;
    }
    return false;
}

namespace {

// The listing's objects of table inet avpn, minus the table and the
// metainfo, each as {KIND: obj} with its handle dropped; `values` false also
// drops counter values.
Result<Json> objects_of_listing(std::string_view list_table_json, bool values) {
    auto parsed = parse(list_table_json, "nft's table listing");
    if (!parsed) return parsed.error();
    auto items = listing(*parsed, "nft's table listing");
    if (!items) return items.error();
    Json out(json_array());
    if (!out) return Error{"read nftables listing", "table inet avpn", "out of memory", ENOMEM};
    for (size_t i = 0; i < json_array_size(*items); ++i) {
        json_t* item = json_array_get(*items, i);
        if (!json_is_object(item) || json_object_size(item) != 1)
            return Error{"nft's table listing", "item " + std::to_string(i), "not an object with one key"};
        std::string kind = json_object_iter_key(json_object_iter(item));
        if (kind == "metainfo" || kind == "table") continue;
        json_t* obj = json_object_get(item, kind.c_str());
        if (!json_is_object(obj) || string_member(obj, "family") != kOwnedFamily || string_member(obj, "table") != kOwnedTable)
            return Error{"nft's table listing", "item " + std::to_string(i), "not an object of table inet avpn"};
        // Moved, not copied: the parsed listing is this function's own and
        // each object is visited once (a copy of 50,000 set elements costs
        // as much as nft's listing itself).
        Json copy(json_incref(obj));
        json_object_del(copy.get(), "handle");
        if (!values && kind == "counter") {
            json_object_del(copy.get(), "packets");
            json_object_del(copy.get(), "bytes");
        }
        json_t* wrapped = json_pack("{s:o}", kind.c_str(), copy.release());
        if (!wrapped || json_array_append_new(out.get(), wrapped) != 0)
            return Error{"read nftables listing", "table inet avpn", "out of memory", ENOMEM};
    }
    return out;
}

}  // namespace

Result<std::string> contents_of_listing(std::string_view list_table_json) {
    auto objects = objects_of_listing(list_table_json, true);
    if (!objects) return objects.error();
    Json cmds(json_array());
    for (size_t i = 0; cmds && i < json_array_size(objects->get()); ++i)
        if (json_array_append_new(cmds.get(), json_pack("{s:O}", "add", json_array_get(objects->get(), i))) != 0)
            cmds.reset();
    return dump(cmds.get());
}

Result<std::string> normalized_listing(std::string_view list_table_json) {
    auto objects = objects_of_listing(list_table_json, false);
    if (!objects) return objects.error();
    return dump(objects->get());
}

}  // namespace avpn::fw
