// What avpn sends libnftables and reads back from it, without the kernel:
// the ownership check of a table's contents, the one batch that replaces
// table inet avpn, and the parsers of nft's JSON listings. Pure, so the
// refusals are unit-tested without root (tests/unit/firewall).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace avpn::fw {

// avpn's one table (the planner names it fw::kTable). Its family and name are its marker: nft 1.0.6 drops a
// table's comment from JSON input silently, so no comment can say more.
inline constexpr std::string_view kOwnedFamily = "inet";
inline constexpr std::string_view kOwnedTable = "avpn";

struct CounterValue {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    bool operator==(const CounterValue&) const = default;
};
using Counters = std::map<std::string, CounterValue, std::less<>>;

// The libnftables JSON document that replaces table inet avpn with
// `contents` (a JSON array of commands) in one transaction: add the table
// (so the delete cannot fail when it is absent), delete it, add it, then
// the contents. Every command must be an `add` of a set, map, chain, rule,
// counter or element in family inet, table avpn; anything else is refused
// with the command's index and what it names, before anything is sent.
// The document is written from the checked tree, not passed through, so
// what runs is exactly what was checked.
Result<std::string> replace_batch(std::string_view contents);

// The document that deletes table inet avpn if it exists: add, then delete,
// in one transaction, so it is idempotent and needs no read first.
Result<std::string> remove_batch();

// `list tables` in JSON: whether table inet avpn is among them.
Result<bool> has_table(std::string_view list_tables_json);

// `list table inet avpn` in JSON (NftTable::read) turned back into
// contents for replace_batch: every object but the table and nft's
// metainfo, as an add, without the kernel's handles. Counters keep their
// packets and bytes, so restoring a table after a failed apply (the undo
// of the firewall domain) does not zero them.
Result<std::string> contents_of_listing(std::string_view list_table_json);

// The same listing with what changes without anyone changing the table
// removed (handles, counter values, nft's metainfo): two tables with equal
// normalized listings hold the same sets, chains and rules. For drift
// checks and for skipping a replace that would change nothing.
Result<std::string> normalized_listing(std::string_view list_table_json);


}  // namespace avpn::fw
