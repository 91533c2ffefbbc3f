// What avpn last knew of its own objects in the kernel, indexed by identity
// (identity.hpp): built from one full observe, then kept current by the ops
// avpn itself executed. The long-lived reconciler diffs a small change
// against a slice of it instead of dumping 200,000 objects again. Anything
// else that changes the kernel (an operator, a vanished device) is found by
// the next full observe, which rebuilds the image.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "netlink/objects.hpp"
#include "orchestrator/reconcile/identity.hpp"
#include "orchestrator/reconcile/ops.hpp"

namespace avpn {

class KernelImage {
public:
    static KernelImage of(const nl::KernelState& observed);

    // The image's objects that share an identity with any object of `a` or
    // `b`; for a WireGuard device its settings and only those peers.
    nl::KernelState slice(const nl::KernelState& a, const nl::KernelState& b) const;

    // Follows ops the kernel executed (an undo's inverses included).
    void record(const std::vector<Op>& executed);
    // After a full apply made the kernel equal `desired`: its SAs' key
    // references replace the dumped ones (a dump cannot say which
    // handshake session an SA's key came from), so the next change can
    // tell a new session under the same SPI (diff.cpp, other_session).
    void adopt_key_refs(const nl::KernelState& desired);
    // Before a full apply diffs a fresh dump: each dumped SA this image
    // knows by identity gets the key reference the image holds, so the
    // full path too can tell a session's SA that moved to other addresses
    // (a WAN failover) from a new SA (diff.cpp, sa_moves) and a new session
    // under the same SPI (other_session).
    void lend_key_refs(nl::KernelState& dumped) const;

    size_t objects() const;
    nl::KernelState state() const;  // everything, sorted by value like a plan (tests)

private:
    template <class T>
    using Set = std::set<T, identity::Less>;
    struct Device {
        nl::WgDevice settings;  // peers empty
        std::map<std::string, nl::WgPeer> peers;  // by public key
    };

    void record(const Op& op);
    void drop_link(const std::string& ifname);  // the kernel drops a link's objects with it

    Set<nl::Link> links_;
    Set<nl::InterfaceAddress> addresses_;
    std::map<std::string, Device> wireguard_;  // by interface
    Set<nl::XfrmSa> sas_;
    Set<nl::XfrmPolicy> policies_;
    Set<nl::Route> routes_;
    Set<nl::Rule> rules_;
};

}  // namespace avpn
