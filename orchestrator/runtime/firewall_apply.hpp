// The firewall domain of an apply (docs/firewall.md, "In apply"): table
// inet avpn becomes the plan's, through plugins/firewall's TablePort.
//
// It runs first, before the kernel's netlink objects and charon, so no
// tunnel or route of a new plan carries traffic before its rules are in
// place. The replace is one transaction: when it fails, nothing else has
// been touched and the old table is as it was. When a later step fails,
// undo_firewall() puts back what was there: the previous table as read
// before the replace (counters included), or no table.
//
// The table needs no write-ahead journal entry: its name is its marker, and
// a run killed after the replace leaves a whole table of avpn's that the
// next apply replaces and `down` removes.
//
// Unchanged tables are not rewritten (a replace zeroes the counters status
// reads): `last` is what the previous install left (firewall_applied_text),
// and when the plan renders the same contents and the kernel's table still
// lists the same, the domain does nothing.
#pragma once

#include <optional>
#include <string>

#include "common/result.hpp"
#include "orchestrator/plan/firewall_table.hpp"
#include "plugins/firewall/nft_table.hpp"

namespace avpn::runtime {

struct FirewallOutcome {
    bool replaced = false;   // the table was (re)written with the plan's contents
    bool removed = false;    // the plan has no table and the kernel had one
    bool unchanged = false;  // equal to the last install: not rewritten
    // What undo puts back: the previous table's contents, or nullopt when
    // there was no table.
    std::optional<std::string> previous;
    std::optional<Error> failure;       // the replace or remove failed: nothing changed
    std::optional<Error> undo_failure;  // putting the previous table back failed
    bool undone = false;
    size_t rules = 0, sets = 0, elements = 0;  // of the plan's table
    // After a successful replace: digests of the rendered contents and of
    // nft's normalized listing, one line, for the next apply and for drift
    // checks.
    std::string applied_text;
    bool changed() const { return replaced || removed; }
};

// State directory file holding FirewallOutcome::applied_text.
inline constexpr const char* kFirewallAppliedFile = "firewall.applied";

FirewallOutcome install_firewall(fw::TablePort& table, const std::optional<fw::FirewallTable>& want,
                                 const std::string& last, bool dry_run);

// Back to what install_firewall found; nothing when it changed nothing.
void undo_firewall(fw::TablePort& table, FirewallOutcome& outcome);

// How the kernel's table differs from an applied_text, in words; nullopt
// when it lists the same. A table that cannot be read counts as drift.
std::optional<std::string> firewall_drift(fw::TablePort& table, const std::string& applied_text);

}  // namespace avpn::runtime
