#include "netlink/batch.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/crypto.hpp"
#include "netlink/describe.hpp"
#include "netlink/error.hpp"

namespace avpn::nl {

namespace {

constexpr uint16_t kRequestFlags = NLM_F_REQUEST | NLM_F_ACK;
constexpr size_t kMaxAcksPerReceive = 256;

// Maps the acks of one sent chunk back to its ops.
class AckCollector {
public:
    AckCollector(int protocol, uint8_t* chunk, size_t used, uint32_t first_seq, OpResult* ops, size_t count)
        : protocol_(protocol), chunk_(chunk), used_(used), first_seq_(first_seq), ops_(ops),
          acked_(count, 0), pending_(count) {}

    // Only failures and the chunk's last op are acked: the last ack means
    // every earlier op without an error succeeded — unless acks were lost.
    void last_ack_covers_all() { last_covers_ = true; }
    void acks_were_lost() { lost_ = true; }

    size_t pending() const { return pending_; }

    void take(const Datagram& d) {
        if (d.truncated) return take_truncated(d.bytes);
        MsgReader r(d.bytes);
        const nlmsghdr* h;
        while (r.next(h))
            if (h->nlmsg_type == NLMSG_ERROR)
                if (auto reply = parse_error_message(h)) take(*reply);
    }

    // Every op still without an ack gets this reason.
    // code: the errno that ended the exchange; 0 when none did.
    void give_up(const std::string& why, int code = 0) {
        for (size_t i = 0; i < acked_.size(); ++i) {
            if (acked_[i]) continue;
            Description d = describe(i);
            ops_[i].status = Error{std::move(d.what), std::move(d.where), why, code};
            ++failed;
        }
        pending_ = 0;
    }

    size_t failed = 0;

private:
    void take(const KernelReply& reply) {
        size_t i = reply.seq - first_seq_;  // unsigned: stale seqs fall out of range
        if (i >= acked_.size() || acked_[i]) return;
        acked_[i] = 1;
        --pending_;
        if (last_covers_ && !lost_ && i + 1 == acked_.size()) {
            std::fill(acked_.begin(), acked_.end(), 1);  // their statuses stay ok
            pending_ = 0;
        }
        if (reply.error == 0) return;
        Description d = describe(i);
        ops_[i].status = kernel_error(std::move(d.what), std::move(d.where), reply);
        ++failed;
    }

    // An ack longer than its receive slot: its header still holds the seq
    // and errno; only the extack text is lost.
    void take_truncated(Bytes b) {
        alignas(nlmsghdr) uint8_t head[NLMSG_HDRLEN + sizeof(nlmsgerr)];
        if (b.size() < sizeof head) return;
        std::memcpy(head, b.data(), sizeof head);
        auto* h = reinterpret_cast<nlmsghdr*>(head);
        if (h->nlmsg_type != NLMSG_ERROR) return;
        h->nlmsg_len = sizeof head;
        h->nlmsg_flags = (h->nlmsg_flags & ~NLM_F_ACK_TLVS) | NLM_F_CAPPED;
        if (auto reply = parse_error_message(h)) take(*reply);
    }

    Description describe(size_t i) {
        if (offsets_.empty()) {
            MsgReader r(Bytes(chunk_, used_));
            const nlmsghdr* h;
            while (r.next(h)) offsets_.push_back(uint32_t(reinterpret_cast<const uint8_t*>(h) - chunk_));
        }
        if (i >= offsets_.size()) return {"request", "op #" + std::to_string(i)};
        return describe_request(protocol_, reinterpret_cast<const nlmsghdr*>(chunk_ + offsets_[i]));
    }

    int protocol_;
    uint8_t* chunk_;
    size_t used_;
    uint32_t first_seq_;
    OpResult* ops_;
    std::vector<uint8_t> acked_;
    size_t pending_;
    bool last_covers_ = false;
    bool lost_ = false;
    std::vector<uint32_t> offsets_;
};

}  // namespace

const Error* BatchResult::first_error() const {
    for (const auto& op : ops)
        if (!op.status) return &op.status.error();
    return nullptr;
}

Batch::Batch(Transport& t, BatchOptions options)
    : t_(t),
      chunk_bytes_(std::max<size_t>(std::min(options.chunk_bytes, t.max_send_bytes()), NLMSG_HDRLEN)),
      chunk_ops_(options.chunk_ops ? options.chunk_ops : t.max_acks_per_send()),
      stop_after_failure_(options.stop_after_failure),
      ack_each_op_(options.ack_each_op) {
    chunk_ops_ = std::max<size_t>(chunk_ops_, 1);
}

Batch::~Batch() { wipe(); }

void Batch::wipe() {
    // The whole chunk: an op that did not fit may have left key bytes past `used`.
    for (auto& c : chunks_) crypto::wipe(c.bytes.get(), chunk_bytes_);
    chunks_.clear();
    op_ids_.clear();
}

void Batch::start_chunk() {
    Chunk c;
    c.bytes.reset(new uint8_t[chunk_bytes_]);  // left uninitialised: writers zero what they use
    c.first_op = op_ids_.size();
    chunks_.push_back(std::move(c));
}

uint8_t* Batch::room() {
    if (chunks_.empty() || chunks_.back().ops >= chunk_ops_) start_chunk();
    return chunks_.back().bytes.get() + chunks_.back().used;
}

size_t Batch::room_size() { return chunk_bytes_ - chunks_.back().used; }

Status Batch::append(uint64_t op_id, MsgWriter& w) {
    Chunk& c = chunks_.back();
    w.header()->nlmsg_flags |= kRequestFlags;
    c.used += NLMSG_ALIGN(w.header()->nlmsg_len);
    ++c.ops;
    op_ids_.push_back(op_id);
    return {};
}

Status Batch::too_large(const MsgWriter& w) const {
    Description d = describe_request(t_.protocol(), w.header());
    return Error{d.what, d.where, "message does not fit in an empty " + std::to_string(chunk_bytes_) + "-byte chunk"};
}

Status Batch::add_message(uint64_t op_id, Bytes message) {
    return add(op_id, [&](MsgWriter& w) -> Status {
        if (message.size() < NLMSG_HDRLEN) return Error{"add message", "batch", "shorter than a netlink header"};
        if (NLMSG_ALIGN(message.size()) > w.capacity()) {
            w.mark_full();
            return {};
        }
        auto* out = reinterpret_cast<uint8_t*>(w.header());
        std::memcpy(out, message.data(), message.size());
        std::memset(out + message.size(), 0, NLMSG_ALIGN(message.size()) - message.size());
        w.header()->nlmsg_len = uint32_t(message.size());
        return {};
    });
}

void Batch::send_chunk(Chunk& c, BatchResult& res) {
    uint32_t first = t_.reserve_seq(uint32_t(c.ops));
    // The sender's port id in every request: rtnetlink ignores it (its
    // notifications name the sending socket), but XFRM copies it into the
    // notifications it multicasts, so without it avpnd's own SA and policy
    // writes would look like someone else's (runtime/drift.hpp).
    const uint32_t portid = t_.portid();
    size_t off = 0;
    for (size_t i = 0; i < c.ops; ++i) {
        auto* h = reinterpret_cast<nlmsghdr*>(c.bytes.get() + off);
        h->nlmsg_seq = first + uint32_t(i);
        h->nlmsg_pid = portid;
        if (!ack_each_op_ && i + 1 < c.ops) h->nlmsg_flags &= ~NLM_F_ACK;
        off += NLMSG_ALIGN(h->nlmsg_len);
    }
    OpResult* ops = res.ops.data() + c.first_op;
    AckCollector acks(t_.protocol(), c.bytes.get(), c.used, first, ops, c.ops);
    if (!ack_each_op_) acks.last_ack_covers_all();
    if (stop_after_failure_ && res.failed) {
        acks.give_up("not sent: an earlier op of the batch failed");
    } else if (Status st = t_.send(Bytes(c.bytes.get(), c.used)); !st) {
        acks.give_up("not sent: " + st.error().why, st.error().code);
    } else {
        for (size_t i = 0; i < c.ops; ++i) ops[i].sent = true;
        auto sink = [&](const Datagram& d) { acks.take(d); };
        while (acks.pending()) {
            st = t_.receive(kMaxAcksPerReceive, sink);
            if (st) continue;
            // The kernel answers a whole send before sendmsg returns: after an
            // overflow (ENOBUFS) the acks that made it are queued; take them,
            // then the rest is unknown.
            acks.acks_were_lost();
            size_t before;
            do {
                before = acks.pending();
            } while (acks.pending() && t_.receive(kMaxAcksPerReceive, sink, false) && acks.pending() < before);
            if (acks.pending()) acks.give_up("no ack from the kernel, outcome unknown: " + st.error().why, st.error().code);
        }
    }
    res.failed += acks.failed;
}

BatchResult Batch::commit() {
    BatchResult res;
    res.ops.resize(op_ids_.size());
    for (size_t i = 0; i < op_ids_.size(); ++i) res.ops[i].op_id = op_ids_[i];
    for (auto& c : chunks_)
        if (c.ops) send_chunk(c, res);
    wipe();
    return res;
}

}  // namespace avpn::nl
