// The shortcut watch's counters as avpnd reads them (issue 14; docs/
// firewall.md "The shortcut watch"): packets this site forwarded to or from
// each watched spoke, through table inet avpn's named counters.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "orchestrator/plan/firewall_table.hpp"
#include "plugins/firewall/nft_table.hpp"

namespace avpn::runtime {

// Packets per counter name, for every entry of `watch` the kernel's table
// has (none is missing after an apply of the plan `watch` comes from; an
// entry the table lacks is left out, not reported as 0). One nfnetlink dump
// of the table's counters (TablePort::counters, NFT_MSG_GETOBJ): no
// libnftables, no set elements, so it costs the same at 10,000 members.
// A replace of the table (any change of the plan's firewall) starts every
// counter at 0 again: a reader keeping rates must take a smaller value as a
// new start, not as a wrap.
Result<std::map<std::string, uint64_t>> read_shortcut_counters(fw::TablePort& table,
                                                               const std::vector<fw::ShortcutWatch>& watch);

// The same from counters already read (Site::read_firewall_counters' for
// the metrics), when the caller has a fresh enough read.
std::map<std::string, uint64_t> shortcut_packets(const fw::Counters& counters,
                                                 const std::vector<fw::ShortcutWatch>& watch);

}  // namespace avpn::runtime
