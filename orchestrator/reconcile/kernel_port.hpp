// The seam between the reconciler and the kernel. The real implementation
// (netlink_port.cpp) speaks netlink and the WireGuard backends; tests run it
// against real kernels in network namespaces and in a VM.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "netlink/objects.hpp"
#include "orchestrator/reconcile/apply_journal.hpp"
#include "orchestrator/reconcile/ops.hpp"

namespace avpn {

// Which objects avpn owns right now: what the plan wants plus what the last
// apply left (state directory), so a removed group is still cleaned up.
struct OwnedScope {
    std::set<std::string> links;  // interface names
    std::set<uint32_t> tables;    // routing tables (routes also need avpn's rtm_protocol)
};

class KernelPort {
public:
    virtual ~KernelPort() = default;

    // Dumps only avpn-owned objects inside the scope (plus avpn's rule band and
    // XFRM reqid/if_id ranges, which need no scope).
    virtual Result<nl::KernelState> observe(const OwnedScope&) = 0;

    // What the kernel itself shows as avpn's, whatever the state directory
    // says: every link carrying avpn's alias and every table holding a route
    // of avpn's protocol. One writer per network namespace (writer_lock.hpp)
    // makes all of them this avpn's. Apply and down add it to their scope, so
    // objects of a killed apply, or of a lost or damaged record, are found.
    virtual Result<OwnedScope> scan_owned() = 0;

    // Marks as avpn's the links a killed run noted in its write-ahead journal
    // (apply_journal.hpp) and created, but did not live to mark: those that
    // exist without avpn's alias and with an ifindex above the one noted
    // (a link at or below it existed before the create, so is not avpn's).
    // Links already marked, gone or not avpn's are left as they are.
    virtual Status adopt_journaled(const std::vector<JournaledLink>&) = 0;

    // Executes ops in order, batching as it sees fit, and returns one status
    // per op: an op's failure does not stop the kernel from executing the
    // rest of its batch, so the caller learns exactly what was applied.
    virtual std::vector<Status> execute(const std::vector<Op>&) = 0;

    // Primary address of each named interface that exists (for the planner's
    // XFRM outer addresses and IPsec local addresses).
    // A failed read is an error, never "no addresses": the planner would
    // take every uplink as down and the apply would remove every XFRM SA.
    virtual Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& names) = 0;
};

}  // namespace avpn
