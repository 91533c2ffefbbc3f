// Replacing an XFRM SA the kernel will not update in place.
//
// XFRM_MSG_UPDSA takes only lifetimes, encapsulation ports, the output mark
// and a non-zero if_id (nl::sa_updatable); a new outer address (a WAN
// failover), replay window, ESN flag or algorithm is acknowledged and
// ignored, so an update of those never converges. Such an SA is replaced:
// read as it is now (XFRM_MSG_GETSA), deleted, and added again under the
// same SPI with the sequence state and current lifetime it had. The
// outbound sequence goes on past the old one, so the peer's replay window,
// which has seen the old numbers, accepts the new SA's packets; the inbound
// window keeps refusing what the old SA took.
//
// The undo of a replace is a replace back (Op::inverse of an update), the
// old SA with its own key and settings and the sequence state of the SA it
// replaces, so the numbers only ever go up.
#pragma once

#include "common/result.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn {

// Sequence numbers the old SA may have used between the read and its
// delete (one netlink round trip; far more at line rate on a stalled
// host): the new SA starts this far past the read one. Skipping numbers
// costs nothing with ESN (2^64); reusing one gets the packet dropped.
inline constexpr uint64_t kSequenceMargin = uint64_t(1) << 20;

// The state a successor of an SA read as `r` starts from: oseq advanced by
// kSequenceMargin if the SA has sent anything (an inbound or idle SA has
// not, and keeps exactly what it had).
nl::ObservedReplay continued(const nl::ObservedReplay& r);

// Replaces `have` (as the last dump saw it) by `want` with `key` (want's key
// bytes). All or nothing: if the add fails after the delete, the SA read
// just before is put back (its own key, its state) and the error says
// whether that worked.
Status replace_sa(nl::Transport& xfrm, const nl::XfrmSa& want, const nl::XfrmSa& have, nl::Bytes key);

}  // namespace avpn
