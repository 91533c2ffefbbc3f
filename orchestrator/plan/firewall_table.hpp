// The firewall part of a plan: avpn's one nftables table, `inet avpn`, as
// plain values. firewall_plan.hpp builds it from the [[firewall]] rules;
// firewall_json.hpp renders it as libnftables JSON for plugins/firewall.
// docs/firewall.md gives the semantics this model encodes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "orchestrator/intent.hpp"

namespace avpn::fw {

inline constexpr const char* kTable = "avpn";       // family inet
inline constexpr const char* kForwardChain = "forward";
inline constexpr const char* kRulesChain = "rules";
inline constexpr const char* kInputChain = "input";   // only while the plan steers WireGuard (uplink guard)
inline constexpr const char* kPathsChain = "paths";  // only with active-active paths
inline constexpr const char* kPathsOutChain = "paths-out";
inline constexpr int kPathsPriority = -150;         // mangle: before the routing decision
inline constexpr int kForwardPriority = -10;        // docs/firewall.md: before filter (0), after conntrack
inline constexpr const char* kDefaultDropCounter = "default-drop";
// The shortcut watch's maps (prefix -> counter), one per family.
inline constexpr const char* kShortcutMap4 = "shortcut-v4";
inline constexpr const char* kShortcutMap6 = "shortcut-v6";

// A named interval set (`flags interval`) of one family. Elements are sorted
// and none lies inside another: nftables refuses overlapping intervals.
struct Set {
    std::string name;
    Family family = Family::v4;
    std::vector<Prefix> elements;
    bool operator==(const Set&) const = default;
};

// One side of a rule: a named set (`@name`) or one literal prefix.
struct AddrMatch {
    std::string set;  // empty: `prefix`
    Prefix prefix;
    bool operator==(const AddrMatch&) const = default;
};

enum class Verdict { accept, drop, jump_rules };

struct Rule {
    Family family = Family::v4;       // every rule is of one family (sets are typed)
    std::optional<AddrMatch> saddr, daddr;
    bool established = false;         // ct state established,related
    std::string protocol;             // "" (any), "tcp", "udp", "icmp" (v4) or "ipv6-icmp" (v6)
    std::vector<uint16_t> dports;     // tcp/udp destination ports, sorted
    std::vector<std::string> iifnames;  // arrived on one of these interfaces (empty: any), sorted
    std::string counter;              // named counter; empty: none
    Verdict verdict = Verdict::accept;
    std::optional<SourceLoc> origin;  // the [[firewall]] rule it comes from
    bool operator==(const Rule&) const = default;
};

// One other spoke this spoke could take a direct shortcut to (issue 14,
// docs/firewall.md "The shortcut watch"): a named counter of the packets
// this site forwards to or from its prefixes. avpnd reads the counters and
// sets a shortcut up where they grow.
struct ShortcutWatch {
    std::string counter;             // "shortcut-<group>/<site>"
    std::string group, site;
    std::vector<Prefix> prefixes;    // its exports and tunnel address; sorted, disjoint across all watches
    bool operator==(const ShortcutWatch&) const = default;
};

// A group that runs more than one path (active-active, docs/uplinks.md "Per
// flow"): a connection's first packet towards `remote` picks path jhash(five-
// tuple) mod devices.size() into its conntrack mark; one arriving from path
// i's device takes path i (the far end chose); every packet of a marked
// connection carries the mark, which rule P+1 routes to path i's table.
struct PathSpread {
    std::string group;
    std::vector<std::string> devices;  // path i's device at index i
    uint32_t first_mark = 0;           // path i's mark (and table): first_mark + i
    std::vector<Prefix> remote;        // sorted, none inside another
    bool operator==(const PathSpread&) const = default;
};

struct FirewallTable {
    std::vector<Set> sets;               // sorted by name
    std::vector<std::string> counters;   // rule-1..rule-N, then default-drop
    std::vector<Rule> forward;           // base chain: local VLAN <-> peer prefixes jump to rules
    std::vector<Rule> rules;             // established, the [[firewall]] rules in order, default drop
    // Base chain hook input, present only when not empty: the uplink guard
    // (routing.hpp's steering; docs/uplinks.md "The uplink guard").
    std::vector<Rule> input;
    // Counted first in forward, both directions, whatever the rules then
    // decide; not part of plan_firewall's table (planner.cpp adds it).
    std::vector<ShortcutWatch> shortcut_watch;  // sorted by counter
    // Base chains `paths` (prerouting) and `paths-out` (output, type route),
    // both at mangle priority, and a set per group and family;
    // not part of plan_firewall's table (planner.cpp adds it).
    std::vector<PathSpread> paths;  // sorted by group
    bool operator==(const FirewallTable&) const = default;
};

}  // namespace avpn::fw
