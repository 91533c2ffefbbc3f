#include "orchestrator/runtime/site_apply.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "orchestrator/runtime/journal_recovery.hpp"
#include "orchestrator/runtime/scope.hpp"

namespace avpn::runtime {

std::vector<std::string> uplinks_of(const Intent& in) {
    std::vector<std::string> out;
    for (const Uplink& u : in.site.uplinks) out.push_back(u.interface);
    for (const IpsecTunnel& t : in.ipsec)
        if (!t.uplink.empty()) out.push_back(t.uplink);
    return out;
}

Result<PlanInputs> read_plan_inputs(const Intent& intent, KernelPort& port) {
    auto addresses = port.interface_addresses(uplinks_of(intent));
    if (!addresses) return addresses.error();
    PlanInputs inputs;
    inputs.uplink_addresses = std::move(*addresses);
    // XFRM SAs come from avpnd's key exchange (xfrm_keying.hpp adds its
    // sessions); a dry run shows the state before any handshake.
    inputs.xfrm_handshake = true;
    return inputs;
}

SiteApplyResult apply_site(const Intent& intent, const DesiredState& plan, const AppliedRecord& recorded,
                           KernelPort& port, const KernelApply& kernel, const SiteApplyOptions& o) {
    SiteApplyResult r;
    // What a killed run noted in the journal is avpn's as much as the
    // record's; this run's creations are noted after it.
    AppliedRecord last = recorded;
    ApplyJournal journal(o.state_dir);
    uint64_t journal_before = 0;
    if (!o.dry_run) {
        if (Status s = recover_unfinished(journal, port, last); !s) return r.refused = s.error(), r;
        auto size = journal.size();
        if (!size) return r.refused = size.error(), r;
        journal_before = *size;
    }
    // charon is needed only when the site has tunnels, or had some to unload.
    const std::vector<vici::Connection>& conns = plan.ipsec;
    std::vector<std::string> unreachable_leftovers;
    std::unique_ptr<vici::Client> charon;
    if (!conns.empty())
        if (Status s = preflight_ipsec(conns); !s) return r.refused = s.error(), r;
    if (!conns.empty() || !last.ipsec_connections.empty()) {
        auto c = connect_charon(o.vici_socket);
        if (c) {
            charon = std::move(*c);
        } else if (!conns.empty()) {
            return r.refused = c.error(), r;  // nothing was changed
        } else {
            r.warnings.push_back(c.error().str() +
                                 ": avpn's earlier connections stay recorded for the next apply or down");
            unreachable_leftovers = last.ipsec_connections;
        }
    }

    auto roll_back_kernel = [&] {
        r.ipsec.kernel_undo_errors = roll_back(r.kernel, port);
        r.ipsec.kernel_rolled_back = true;
        r.kernel.applied = false;
        if (o.firewall) undo_firewall(*o.firewall, r.firewall);
    };
    // The record's scope plus what the kernel shows as avpn's: a killed
    // apply's objects (say, of an interface name since changed) are removed,
    // not left to hold the new one's port.
    OwnedScope scope = scope_of(plan, last);
    if (Status s = add_scanned(scope, port); !s) return r.refused = s.error(), r;  // nothing was changed
    if (plan.firewall && !o.firewall)
        return r.refused = Error{"apply the firewall", "table inet avpn", "no nftables table to install it in"}, r;
    // The firewall first: a new plan's tunnels and routes carry nothing
    // before its rules are in place. Its failure has changed nothing.
    if (o.firewall) {
        std::string last_firewall;  // unreadable: no record, so the table is rewritten
        if (auto text = StateDir(o.state_dir).read_file(kFirewallAppliedFile); text && *text) last_firewall = **text;
        r.firewall = install_firewall(*o.firewall, plan.firewall, last_firewall, o.dry_run);
        if (r.firewall.failure) return r;
    }
    r.kernel = kernel(plan, scope);
    if (r.kernel.failure && o.firewall) undo_firewall(*o.firewall, r.firewall);  // the kernel undid itself
    if (!r.kernel.failure && charon) {
        // Written ahead: charon's connections carry no marker of avpn's.
        std::vector<std::string> loading;
        for (const vici::Connection& c : conns)
            if (std::find(last.ipsec_connections.begin(), last.ipsec_connections.end(), c.name) ==
                last.ipsec_connections.end())
                loading.push_back(c.name);
        Status noted = o.dry_run ? Status{} : journal.note_ipsec(loading);
        if (!noted) r.ipsec.failure = noted.error();
        else r.ipsec = apply_ipsec(*charon, conns, o.state_dir, o.settle_seconds, o.dry_run);
        if (r.ipsec.failure && !o.dry_run) roll_back_kernel();  // charon's part is undone already
    }
    r.warnings.insert(r.warnings.end(), r.ipsec.warnings.begin(), r.ipsec.warnings.end());
    r.record = record_of(intent, plan, o.config_path);
    for (const std::string& n : unreachable_leftovers) r.record.ipsec_connections.push_back(n);
    if (r.ok() && !o.dry_run && o.save) {
        if (Status s = o.save(r.record); !s) {
            r.record_failure = s.error();
            if (charon) undo_ipsec(*charon, r.ipsec, o.state_dir);
            roll_back_kernel();
        } else if (o.firewall) {
            // Lost, the record only costs the next apply a rewrite.
            StateDir state(o.state_dir);
            Status saved = r.firewall.applied_text.empty() ? state.remove_file(kFirewallAppliedFile)
                                                          : state.write_file(kFirewallAppliedFile, r.firewall.applied_text);
            if (!saved) r.warnings.push_back(saved.error().str() + ": the next apply rewrites table inet avpn");
        }
    }
    // Undone without a fault: what this run noted is gone again, and a stale
    // name must not make a later run adopt a link someone makes meanwhile.
    bool undone_cleanly = !r.firewall.undo_failure && r.kernel.undo_failures.empty() && r.ipsec.kernel_undo_errors.empty() &&
                          r.ipsec.undo_errors.empty() && r.ipsec.not_undone.empty();
    if (!r.ok() && !r.refused && !o.dry_run && undone_cleanly) (void)journal.truncate(journal_before);
    return r;
}

AppliedRecord record_of(const Intent& intent, const DesiredState& plan, const std::string& config_path) {
    AppliedRecord rec;
    rec.site = intent.site.name;
    rec.config_path = config_path;
    rec.owned = owned_by(plan);
    for (const vici::Connection& c : plan.ipsec) rec.ipsec_connections.push_back(c.name);
    return rec;
}

Status save_applied(const StateDir& state, const AppliedRecord& record, const std::string& config_path) {
    std::ifstream in(config_path);
    std::stringstream text;
    text << in.rdbuf();
    return state.save(record, text.str());
}

}  // namespace avpn::runtime
