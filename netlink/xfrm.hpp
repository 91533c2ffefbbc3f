// XFRM over netlink: ESP tunnel-mode SAs (AEAD, NAT-T encapsulation, mark,
// if_id, replay window, lifetimes) and policies with their templates.
//
// Keys: an SA's KeyRef is resolved by the caller, which passes the key bytes
// to encode_sa; the bytes are copied straight into the message, the scratch
// copy is wiped, and the batch wipes its buffers after sending. Dumps fill
// XfrmSa without key material.
//
// Ownership: dumps take a predicate (reqid range, if_id range) so only
// avpn's SAs and policies reach the reconciler.
#pragma once

#include <functional>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

enum class XfrmWrite : uint8_t { add, update };  // NEW* (fails if present) / UPD* (upsert)

struct IdRange {
    uint32_t first = 0;
    uint32_t last = 0;
    bool contains(uint32_t v) const { return v >= first && v <= last; }
};

// SAs. ESN states (sa.esn) and windows above 32 go in XFRMA_REPLAY_ESN_VAL.
// carry (XfrmWrite::add only): the sequence state and current lifetime of
// the SA this one replaces, written into the new state (XFRMA_REPLAY_ESN_VAL
// or XFRMA_REPLAY_VAL, XFRMA_LTIME_VAL); its bitmap is kept when layout and
// window match, else the whole new window counts as seen.
Status encode_sa(MsgWriter& w, XfrmWrite op, const XfrmSa& sa, Bytes key, const ObservedReplay* carry = nullptr);
Status encode_sa_delete(MsgWriter& w, const XfrmSa& sa);  // by dst, spi, ESP, src, mark
// Fills observed_key (when the reader may see keys) and observed_replay.
Result<XfrmSa> parse_sa(const nlmsghdr* h);
// The SA the kernel holds under id's (dst, spi, ESP, mark), read now: its
// sequence state as of this moment, not of the last dump.
Result<XfrmSa> get_sa(Transport& t, const XfrmSa& id);
// True when XFRM_MSG_UPDSA turns `have` into `want`: they differ only in
// lifetime limits, encapsulation ports or a non-zero if_id. Anything else
// (addresses, replay window, ESN, algorithm, key size, mark, reqid, adding
// or removing encapsulation) the kernel acknowledges and ignores: such an
// SA has to be replaced.
bool sa_updatable(const XfrmSa& want, const XfrmSa& have);
Result<std::vector<XfrmSa>> dump_sas(Transport& t, const std::function<bool(const XfrmSa&)>& keep);
std::function<bool(const XfrmSa&)> sa_reqid_in(IdRange reqids);

// Policies
Status encode_policy(MsgWriter& w, XfrmWrite op, const XfrmPolicy& p);
Status encode_policy_delete(MsgWriter& w, const XfrmPolicy& p);  // by selector, dir, mark, if_id
Result<XfrmPolicy> parse_policy(const nlmsghdr* h);
Result<std::vector<XfrmPolicy>> dump_policies(Transport& t, const std::function<bool(const XfrmPolicy&)>& keep);
// avpn's: if_id in if_ids, or a template whose reqid is in reqids.
std::function<bool(const XfrmPolicy&)> policy_owned(IdRange reqids, IdRange if_ids);

// Short descriptions for errors and logs.
std::string sa_name(const XfrmSa& sa);
std::string policy_name(const XfrmPolicy& p);

}  // namespace avpn::nl
