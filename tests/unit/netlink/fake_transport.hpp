// A scripted kernel for unit tests: records what is sent and answers with
// crafted datagrams, so batch, dump and error paths run without a socket.
#pragma once

#include <linux/netlink.h>

#include <cerrno>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "netlink/message.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl::test {

using Datagrams = std::vector<std::vector<uint8_t>>;

class FakeTransport final : public Transport {
public:
    explicit FakeTransport(int protocol = NETLINK_ROUTE) : protocol_(protocol) {}

    // Called with every sent datagram; returns the kernel's answer datagrams.
    std::function<Datagrams(Bytes)> kernel;
    Datagrams sent;
    size_t max_send = 1 << 20;
    size_t max_acks = 4096;
    size_t receives = 0;
    bool fail_next_receive = false;  // the next receive fails as on a receive-queue overflow

    int protocol() const override { return protocol_; }
    uint32_t reserve_seq(uint32_t count) override {
        uint32_t first = seq_;
        seq_ += count;
        return first;
    }
    Status send(Bytes d) override {
        sent.emplace_back(d.begin(), d.end());
        if (kernel)
            for (auto& reply : kernel(d)) queue_.push_back(std::move(reply));
        return {};
    }
    Status receive(size_t max_datagrams, const std::function<void(const Datagram&)>& sink, bool wait) override {
        ++receives;
        if (fail_next_receive) {
            fail_next_receive = false;
            return Error{"receive from the kernel", "netlink", "No buffer space available (ENOBUFS)", ENOBUFS};
        }
        if (queue_.empty() && !wait) return {};
        if (queue_.empty()) return Error{"receive from the kernel", "netlink", "timed out", ETIMEDOUT};
        for (size_t i = 0; i < max_datagrams && !queue_.empty(); ++i) {
            auto d = std::move(queue_.front());
            queue_.pop_front();
            bool truncated = d.size() > truncate_at;
            if (truncated) d.resize(truncate_at);
            sink(Datagram{Bytes(d.data(), d.size()), truncated});
        }
        return {};
    }
    size_t max_send_bytes() const override { return max_send; }
    size_t max_acks_per_send() const override { return max_acks; }
    uint32_t portid() const override { return port_id; }
    uint32_t port_id = 0;  // as a socket bound to this port id

    size_t truncate_at = 1 << 20;  // datagrams longer than this arrive truncated

private:
    int protocol_;
    uint32_t seq_ = 1000;
    std::deque<std::vector<uint8_t>> queue_;
};

// The messages of one sent datagram.
inline std::vector<const nlmsghdr*> messages(Bytes d) {
    std::vector<const nlmsghdr*> out;
    MsgReader r(d);
    const nlmsghdr* h;
    while (r.next(h)) out.push_back(h);
    return out;
}

// Builds one message with a MsgWriter into a fresh vector.
inline std::vector<uint8_t> build(uint16_t type, uint16_t flags, uint32_t seq,
                                  const std::function<void(MsgWriter&)>& fill, size_t capacity = 65536) {
    std::vector<uint8_t> buf(capacity);
    MsgWriter w(buf.data(), buf.size(), type, flags);
    w.header()->nlmsg_seq = seq;
    if (fill) fill(w);
    buf.resize(w.header()->nlmsg_len);
    return buf;
}

// An ack (error 0) or a failure (positive errno) for request seq, capped,
// with an extack message when one is given.
inline std::vector<uint8_t> ack(uint32_t seq, int err = 0, const std::string& extack = "") {
    uint16_t flags = NLM_F_CAPPED | (extack.empty() ? 0 : NLM_F_ACK_TLVS);
    return build(NLMSG_ERROR, flags, seq, [&](MsgWriter& w) {
        auto* e = w.put_fixed<nlmsgerr>();
        e->error = -err;
        e->msg.nlmsg_seq = seq;
        e->msg.nlmsg_len = NLMSG_HDRLEN;
        if (!extack.empty()) w.put_str(NLMSGERR_ATTR_MSG, extack);
    });
}

inline std::vector<uint8_t> done(uint32_t seq, uint16_t flags = 0, int err = 0) {
    return build(NLMSG_DONE, flags, seq, [&](MsgWriter& w) { *w.put_fixed<int>() = -err; });
}

// Several messages in one datagram.
inline std::vector<uint8_t> concat(const std::vector<std::vector<uint8_t>>& msgs) {
    std::vector<uint8_t> out;
    for (const auto& m : msgs) {
        out.insert(out.end(), m.begin(), m.end());
        out.resize(NLMSG_ALIGN(out.size()));
    }
    return out;
}

}  // namespace avpn::nl::test
