// Output of apply and down: per-kind counts and the ops, for people and
// (--json, schema "avpn.apply/1") for machines. Tests assert "a no-op apply
// writes nothing" from this JSON.
#pragma once

#include <string>

#include "orchestrator/runtime/firewall_apply.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/reconcile/apply.hpp"

namespace avpn::report {

// `ipsec` (may be null) is the charon step; JSON carries it as "ipsec"
// (null when charon was not asked: a site without [[ipsec]] tunnels).
// `firewall`: what the apply did with table inet avpn (null: not part of
// this report, as in down's and avpnd's incremental changes).
std::string render_apply_text(const ApplyReport&, bool dry_run, const runtime::IpsecOutcome* ipsec = nullptr,
                              const runtime::FirewallOutcome* firewall = nullptr);
std::string render_apply_json(const ApplyReport&, bool dry_run, const runtime::IpsecOutcome* ipsec = nullptr,
                              const runtime::FirewallOutcome* firewall = nullptr);

// One line per tunnel, as `status` and `apply` print it.
std::string tunnel_line(const vici::TunnelStatus& t);

}  // namespace avpn::report
