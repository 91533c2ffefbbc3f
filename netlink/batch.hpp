// Batched writes: many requests in one sendmsg, each with its own sequence
// number and NLM_F_ACK; the acks are read back as a stream (many per
// recvmmsg) and mapped to their ops by sequence number, so every op gets its
// own status. Encoders write straight into the chunk being filled — no
// per-op allocation, no per-op syscall.
//
//   Batch b(sock);
//   b.add(op_id, [&](MsgWriter& w) { return encode_route(w, RouteOp::add, r, oif, 147); });
//   BatchResult res = b.commit();
//
// A chunk is bounded by bytes (one sendmsg) and by ops (acks the socket's
// receive queue can hold); an op that does not fit the current chunk goes to
// a fresh one. The kernel processes every message of a sendmsg even after one
// fails, so within a chunk the others still apply; stop_after_failure only
// keeps later chunks from being sent. Buffers are wiped (they may hold keys).
#pragma once

#include <memory>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

struct BatchOptions {
    size_t chunk_bytes = 256 * 1024;  // capped by the transport's max_send_bytes()
    size_t chunk_ops = 0;             // 0: the transport's max_acks_per_send()
    bool stop_after_failure = false;  // once an op failed, later chunks are not sent
    // false: only the chunk's last op asks for an ack; the kernel acks every
    // failure anyway, so each op still gets its own status, with one ack skb
    // per chunk instead of one per op.
    bool ack_each_op = true;
};

struct OpResult {
    uint64_t op_id = 0;
    Status status;      // ok, or what / on which object / why (errno + extack)
    bool sent = false;  // false: never reached the kernel (stopped or send failed)
};

struct BatchResult {
    std::vector<OpResult> ops;  // in the order the ops were added
    size_t failed = 0;          // ops whose status is an error

    bool ok() const { return failed == 0; }
    const Error* first_error() const;
};

class Batch {
public:
    explicit Batch(Transport& t, BatchOptions options = {});
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    // encode(MsgWriter&) -> Status sets the message type and flags and fills
    // it. A full writer means "does not fit": the op moves to a fresh chunk
    // and encode runs once more. An encoder error is returned as is.
    template <class Encode>
    Status add(uint64_t op_id, Encode&& encode) {
        for (int attempt = 0;; ++attempt) {
            uint8_t* at = room();  // before room_size(): it may start a chunk
            MsgWriter w(at, room_size(), 0, 0);
            Status st = encode(w);
            if (!st) return st;
            if (!w.full()) return append(op_id, w);
            if (attempt > 0 || current_is_empty()) return too_large(w);
            start_chunk();
        }
    }

    // A message built elsewhere (one part of a split WireGuard update).
    Status add_message(uint64_t op_id, Bytes message);

    size_t size() const { return op_ids_.size(); }

    // Sends every chunk and collects one result per op; the batch is empty after.
    BatchResult commit();

private:
    struct Chunk {
        std::unique_ptr<uint8_t[]> bytes;
        size_t used = 0;
        size_t first_op = 0;
        size_t ops = 0;
    };

    uint8_t* room();
    size_t room_size();
    bool current_is_empty() const { return chunks_.empty() || chunks_.back().ops == 0; }
    void start_chunk();
    Status append(uint64_t op_id, MsgWriter& w);
    Status too_large(const MsgWriter& w) const;
    void send_chunk(Chunk& c, BatchResult& res);
    void wipe();

    Transport& t_;
    size_t chunk_bytes_;
    size_t chunk_ops_;
    bool stop_after_failure_;
    bool ack_each_op_;
    std::vector<Chunk> chunks_;
    std::vector<uint64_t> op_ids_;
};

}  // namespace avpn::nl
