// Down: remove every kernel object and charon connection avpn owns, and
// nothing else, for `avpnctl down` (one-shot) and avpnd (asked over its
// control socket). Works without a config file: ownership comes from avpn's
// markers and the state directory (the connections the last apply loaded,
// all carrying avpn-).
//
// charon first: its SAs of a route-based tunnel carry the if_id of an XFRM
// interface the kernel step deletes. A charon that is not running holds no
// connections, so "cannot connect" is a note, not a failure. A charon that
// fails or does not answer (connect_charon's 2 s probe, a 30 s budget for the
// unloads) stops only its own part: the kernel's objects still go, as the
// operator asked, and charon's connections stay recorded for the next down;
// the failure says so once and down exits non-zero.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/reconcile/apply.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "plugins/firewall/nft_table.hpp"

namespace avpn::runtime {

struct DownReport {
    IpsecOutcome ipsec;
    ApplyReport kernel;
    bool firewall_removed = false;  // table inet avpn was there and is gone
    bool has_report = false;        // ipsec/kernel say what was done (rendered as an apply report)
    std::vector<std::string> notes;  // worth saying, not failures
    std::optional<Error> failure;    // what stopped it (the kernel's own failure is in `kernel`)
    bool ok() const { return !failure && !kernel.failure; }
    // The kernel part is gone (whatever became of charon's).
    bool kernel_removed() const { return has_report && !kernel.failure; }
};

// The caller holds the state directory's lock. On success the record and
// the charon bookkeeping files are removed; on failure (of charon or the
// kernel) they stay, so the next down retries. A damaged record
// (kDamagedRecord) stops it before anything is touched, unless `force_scan`
// (`avpnctl down --force-scan`): then the kernel's markers alone say what is
// avpn's, and the record is removed with the rest. charon connections only
// that record named are not known then and stay loaded (a note says so).
// Table inet avpn goes last (`firewall`; null only where no table can
// exist), after the tunnels it filtered: it needs no record, its name is
// its marker.
DownReport down_site(const StateDir& state, const std::string& vici_socket, KernelPort& port,
                     fw::TablePort* firewall, bool force_scan = false);

}  // namespace avpn::runtime
