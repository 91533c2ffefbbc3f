// Table inet avpn as libnftables JSON (libnftables-json(5)): the contract
// between the planner and plugins/firewall.
//
// The document is a JSON array of commands, each {"add": {...}}, holding
// ONLY the objects inside the table, in an order nft can run top to bottom:
// named counters (the shortcut watch's first), sets (with their elements),
// the shortcut watch's maps, the chains `rules` and `forward`, then the
// rules of `rules`, then those of `forward` (the watch's first). Every
// object names family "inet" and table "avpn". The table object itself is
// NOT in it: the kernel side wraps the array as
//   {"nftables": [ {"add": {"table": ...}}, {"delete": {"table": ...}},
//                  {"add": {"table": ...}}, <this array's commands> ]}
// and runs it as one batch, so the old table is replaced whole or not at all.
#pragma once

#include <string>

#include "common/json.hpp"
#include "orchestrator/plan/firewall_table.hpp"

namespace avpn::fw {

// The command array, as one JSON value.
std::string render_firewall_json(const FirewallTable& table);
void write_firewall_json(JsonWriter& w, const FirewallTable& table);

// One rule as nft's own list syntax shows it ("ip saddr @local-4 ...
// counter name \"rule-1\" accept"), for avpnctl plan and tests.
std::string rule_text(const Rule& rule);

}  // namespace avpn::fw
