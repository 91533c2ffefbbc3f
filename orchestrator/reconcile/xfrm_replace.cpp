#include "orchestrator/reconcile/xfrm_replace.hpp"

#include "netlink/batch.hpp"
#include "netlink/xfrm.hpp"

namespace avpn {

namespace {

// One write with its own ack: a replace is three steps, each must be known
// done before the next.
Status write_one(nl::Transport& x, const std::function<Status(nl::MsgWriter&)>& enc) {
    nl::Batch b(x);
    if (Status s = b.add(0, enc); !s) return s;
    nl::BatchResult r = b.commit();
    if (const Error* e = r.first_error()) return *e;
    return {};
}

}  // namespace

nl::ObservedReplay continued(const nl::ObservedReplay& r) {
    nl::ObservedReplay c = r;
    uint64_t oseq = uint64_t(r.oseq_hi) << 32 | r.oseq;
    if (!oseq) return c;
    oseq = oseq > UINT64_MAX - kSequenceMargin ? UINT64_MAX : oseq + kSequenceMargin;
    c.oseq = uint32_t(oseq);
    c.oseq_hi = uint32_t(oseq >> 32);
    return c;
}

Status replace_sa(nl::Transport& x, const nl::XfrmSa& want, const nl::XfrmSa& have, nl::Bytes key) {
    auto live = nl::get_sa(x, have);
    if (!live) return live.error();
    const nl::ObservedReplay carry = continued(live->observed_replay);
    if (Status s = write_one(x, [&](nl::MsgWriter& w) { return nl::encode_sa_delete(w, *live); }); !s) return s;
    Status added = write_one(x, [&](nl::MsgWriter& w) {
        return nl::encode_sa(w, nl::XfrmWrite::add, want, key, &carry);
    });
    if (added) return added;
    // The old SA back as it was, so a failed op leaves nothing to undo.
    Error e = added.error();
    const std::vector<uint8_t>& old_key = live->observed_key.bytes();
    Status back = old_key.empty() ? Status{Error{"restore xfrm sa", nl::sa_name(*live), "its key was not readable"}}
                                  : write_one(x, [&](nl::MsgWriter& w) {
                                        return nl::encode_sa(w, nl::XfrmWrite::add, *live,
                                                             nl::Bytes(old_key.data(), old_key.size()), &carry);
                                    });
    e.why += back ? "; the old SA is back" : "; putting the old SA back failed too: " + back.error().str();
    return e;
}

}  // namespace avpn
