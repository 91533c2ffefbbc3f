// One apply of a site's whole plan, shared by `avpnctl apply` and avpnd:
// everything that can fail without touching anything first (PSK files, the
// load-conn mapping, charon reachable), then the firewall (table inet avpn,
// replaced in one transaction, firewall_apply.hpp), then the kernel (it has
// a journal), then charon (its ops journaled with their inverses,
// vici/journal.hpp), then the record in the state directory. A failure in
// any of them undoes the earlier ones, newest first: charon's ops, then the
// kernel's journal, then the previous table is put back.
// Kernel first also means an XFRM interface exists before charon installs
// SAs carrying its if_id.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/runtime/firewall_apply.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/intent.hpp"
#include "orchestrator/plan/desired_state.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/apply.hpp"
#include "orchestrator/reconcile/state_dir.hpp"

namespace avpn::runtime {

struct SiteApplyOptions {
    std::string config_path;
    std::string state_dir;
    std::string vici_socket;
    int settle_seconds = 10;
    bool dry_run = false;
    // Records a successful apply (save_applied); its failure undoes the apply,
    // since `down` could not find what the record lacks. Empty: not recorded.
    std::function<Status(const AppliedRecord&)> save;
    // Table inet avpn in the kernel (plugins/firewall's NftTable). Required
    // when the plan has a firewall, and to remove the table of a site
    // whose role became off; a plan with a firewall and no table here is
    // refused before anything changes.
    // What it was last installed as is kept in the state directory
    // (kFirewallAppliedFile) beside the record.
    fw::TablePort* firewall = nullptr;
};

struct SiteApplyResult {
    std::optional<Error> refused;  // before anything was changed (preflight, charon unreachable)
    FirewallOutcome firewall;
    ApplyReport kernel;
    IpsecOutcome ipsec;
    std::vector<std::string> warnings;
    AppliedRecord record;  // what the state directory keeps after a success
    std::optional<Error> record_failure;  // options.save failed: charon and the kernel were undone
    bool ok() const {
        return !refused && !firewall.failure && !kernel.failure && !ipsec.failure && !record_failure;
    }
};

// Applies the kernel objects of a plan within a scope (apply(), or the
// daemon's Reconciler).
using KernelApply = std::function<ApplyReport(const nl::KernelState&, const OwnedScope&)>;

SiteApplyResult apply_site(const Intent& intent, const DesiredState& plan, const AppliedRecord& last,
                           KernelPort& port, const KernelApply& kernel, const SiteApplyOptions& options);

// Names of the interfaces whose addresses the planner needs (uplinks, the
// bound WAN ports of IPsec tunnels).
std::vector<std::string> uplinks_of(const Intent& intent);

// What the planner reads from the kernel: the addresses of uplinks_of().
// A read that fails is an error, never "no address": planned without its
// uplinks, every XFRM peer would go pending and the apply would delete its
// SAs (issue 12, case 10). The caller applies nothing then.
Result<PlanInputs> read_plan_inputs(const Intent& intent, KernelPort& port);

// What avpn owns once `plan` is applied: its interfaces, tables and charon
// connections.
AppliedRecord record_of(const Intent& intent, const DesiredState& plan, const std::string& config_path);

// Saves the record with the config file's text beside it.
Status save_applied(const StateDir& state, const AppliedRecord& record, const std::string& config_path);

}  // namespace avpn::runtime
