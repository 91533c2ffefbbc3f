// Internal to orchestrator/config: the state of one load, shared by the
// parse_*.cpp stages (TOML tables -> Intent fields, per-table checks) and the
// check_*.cpp stages (references and collisions across tables, groups and
// files). Parsed documents stay alive until the checks finish, so a check can
// point at the exact key or array item that caused it.
#pragma once

#include <deque>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/config/diag.hpp"
#include "orchestrator/config/fields.hpp"
#include "orchestrator/config/files.hpp"
#include "orchestrator/intent.hpp"

namespace avpn::config {

// Where a table's keys were written, after its Fields reader is gone.
struct Where {
    const std::string* file = nullptr;
    const Node* table = nullptr;
    std::string path;                          // "vlan[2]", "autovpn", "member[7]"
    std::set<std::string, std::less<>> bad;    // keys whose value had an error

    static Where of(const Fields& f);
    bool ok(std::string_view key) const { return bad.find(key) == bad.end(); }
    bool has(std::string_view key) const { return table && table->find(key); }
    SourceLoc loc() const;
    SourceLoc loc(std::string_view key) const;                // value, or the table
    SourceLoc item_loc(std::string_view key, size_t i) const;  // array item, or the key
    std::string field(std::string_view key) const { return join_path(path, key); }
    std::string item_field(std::string_view key, size_t i) const { return index_path(field(key), i); }
};

// The group-wide settings at the head of a member list: [group] in a list
// file, [autovpn.header] inline. Every member reads the same values, so two
// sites cannot disagree on them; a site file may repeat them, not differ.
struct GroupHeader {
    bool present = false;
    std::string name;                     // the group this list is for
    std::optional<Prefix> tunnel_subnet;  // set and valid
    std::optional<Transport> transport;
    std::optional<bool> shortcuts;
    Where where;
};

struct MemberList {
    bool loaded = false;        // the list (file or inline) was read and parsed
    std::string file;           // where the entries are written
    GroupHeader header;
    std::vector<Where> where;   // parallel to Group.members
    std::optional<Member> self;  // this site's own entry, if listed
    Where self_where;
};

struct GroupState {
    Where where;
    MemberList members;

    // Where the group's tunnel subnet is set: the header when it sets it,
    // else the site's group table (its own key, or the table: the default).
    const Where& tunnel_subnet_where() const {
        return members.header.where.has("tunnel_subnet") ? members.header.where : where;
    }
};

struct Loader {
    // Files are read through the paths as given; diagnostics name them
    // normalised (normal_path).
    Loader(const FileSource& f, const std::string& site_file)
        : files(f), file(normal_path(site_file)), dir(directory_of(site_file)) {}

    const FileSource& files;
    std::string file;  // the site file, as diagnostics name it
    std::string dir;   // where its relative paths start
    Diag diag;
    std::deque<Node> docs;          // every parsed document, kept for Where
    std::deque<std::string> names;  // file names Where and ValueCtx refer to

    Intent intent;
    bool key_loaded = false;
    Where site;
    std::vector<Where> vlans;  // parallel to intent.vlans
    std::vector<GroupState> groups;
    std::vector<Where> ipsec;
    std::vector<Where> firewall;

    ValueCtx ctx() { return ValueCtx{diag, file}; }
    ValueCtx ctx_for(const std::string& f) { return ValueCtx{diag, f}; }
    std::string resolve(const std::string& p) const { return resolve_path(dir, p); }
    const std::string& keep_name(std::string name) { return names.emplace_back(std::move(name)); }
    bool site_role_known() const { return site.table && site.has("role") && site.ok("role"); }
    bool vlan_declared(std::string_view name) const;
    const Vlan* vlan(std::string_view name) const;
    std::string unknown_vlan(std::string_view name) const;  // the error message
};

// The tables of a section written either as [x] (path "x") or [[x]]
// (paths "x[0]", "x[1]", ...). Reports a section of any other type.
struct SectionTable {
    const Node* table;
    std::string path;
};
std::vector<SectionTable> section_tables(const ValueCtx&, const Node& value, const std::string& name);

// `text` (a message about the file `path`) with `path` written as
// diagnostics print it (normal_path).
std::string with_normal_path(std::string text, const std::string& path);

// Reads a secret file named by `key` of `f`, resolved against the site's
// directory. nullopt (after an error at that key) when it cannot be used.
std::optional<Secret> read_secret_at(Loader&, Fields& f, std::string_view key, std::string* resolved);

// role = "hub" | "spoke" | "off", required.
std::optional<Role> read_role(Fields& f);
// transport = "wireguard" | "xfrm"; nullopt when absent or bad.
std::optional<Transport> read_transport(Fields& f);

// Runs parse_one(loader, ctx, table, index) on every table of a section.
template <class ParseOne>
void parse_each(Loader& l, const Node& value, const std::string& name, ParseOne parse_one) {
    ValueCtx c = l.ctx();
    std::vector<SectionTable> tables = section_tables(c, value, name);
    for (size_t i = 0; i < tables.size(); ++i) parse_one(l, c, tables[i], i);
}

// Hub references: "name" or { name = "x", default_route = true }.
std::optional<std::vector<HubRef>> read_hub_refs(Fields& f, std::string_view key);

// Role rules shared by this site's group section and every member entry:
// hubs list no hubs; spokes list no exit_hubs, need a hub and something to
// export (export_key: "permitted_vlans" for this site, "exports" for members).
void check_role_keys(Diag&, Role, const Where&, size_t hubs, size_t exported, std::string_view export_key);

// Stages, in the order load.cpp runs them.
void parse_site(Loader&, const Node& table);
void parse_vlans(Loader&, const Node& value);
void parse_groups(Loader&, const Node& value);
void load_member_list(Loader&, GroupState&, Group&, Fields& group_fields);
// The member list file l.file on its own (load_member_list_file): header
// required with a name, entries checked as a site checks them; no site.
void load_member_file_alone(Loader&, MemberList&, Group&);
// After load_member_list: the header's values become the group's; a site
// value that differs, or a header for another group, is an error.
void apply_group_header(Loader&, GroupState&, Group&, Fields& group_fields);
void parse_ipsec(Loader&, const Node& value);
void parse_firewall(Loader&, const Node& value);

void check_vlans(Loader&);
void check_group(Loader&, size_t group_index);
// Exported prefixes, tunnel subnets and local VLAN subnets of every group,
// in one O(n log n) sweep.
void check_overlaps(Loader&);
void check_between_groups(Loader&);
void check_ipsec(Loader&);
void check_firewall(Loader&);

}  // namespace avpn::config
