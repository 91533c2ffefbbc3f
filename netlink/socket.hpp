// The netlink transport: one seam (Transport) between the protocol logic —
// request/ack, dumps, batches — and the socket, so that logic is unit-tested
// with crafted kernel replies and runs unchanged on a real socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"

struct mnl_socket;

namespace avpn::nl {

// One received datagram; truncated when it was longer than the slot (MSG_TRUNC).
struct Datagram {
    Bytes bytes;
    bool truncated = false;
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual int protocol() const = 0;  // NETLINK_ROUTE, NETLINK_XFRM, NETLINK_GENERIC
    // Reserves count consecutive sequence numbers and returns the first.
    virtual uint32_t reserve_seq(uint32_t count) = 0;
    // One datagram, which may hold many messages.
    virtual Status send(Bytes datagram) = 0;
    // Waits for one datagram (unless wait is false), then also takes those
    // already queued, up to max_datagrams, and hands each to sink in arrival
    // order. Without wait, an empty queue is success with no datagram.
    virtual Status receive(size_t max_datagrams, const std::function<void(const Datagram&)>& sink,
                           bool wait = true) = 0;
    // How many bytes one send may carry, and how many acks the receive queue
    // holds before the kernel drops them (ENOBUFS): a batch chunk stays below both.
    virtual size_t max_send_bytes() const = 0;
    virtual size_t max_acks_per_send() const = 0;
    // The port id requests are sent from, written into their nlmsg_pid by
    // batches: XFRM notifications name the writer by that field alone.
    // 0: none (a scripted transport).
    virtual uint32_t portid() const { return 0; }
};

struct SocketOptions {
    int rcvbuf = 32 << 20;  // asked with SO_RCVBUFFORCE (root), else SO_RCVBUF
    int sndbuf = 4 << 20;
    int timeout_ms = 10000;  // a receive that waits longer fails instead of hanging
};

// A bound netlink socket (libmnl) with extended acks, capped acks and, on
// NETLINK_ROUTE, strict dump checking (so the kernel filters route dumps).
class Socket final : public Transport {
public:
    static Result<Socket> open(int protocol, const SocketOptions& options = {});

    Socket(Socket&& other) noexcept;
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() override;

    int fd() const;
    uint32_t portid() const override;

    int protocol() const override { return protocol_; }
    uint32_t reserve_seq(uint32_t count) override;
    Status send(Bytes datagram) override;
    Status receive(size_t max_datagrams, const std::function<void(const Datagram&)>& sink,
                   bool wait = true) override;
    size_t max_send_bytes() const override { return max_send_; }
    size_t max_acks_per_send() const override { return max_acks_; }

private:
    Socket() = default;
    Status configure(const SocketOptions& options);
    void close();

    mnl_socket* sock_ = nullptr;
    int protocol_ = 0;
    uint32_t next_seq_ = 0;
    size_t max_send_ = 0;
    size_t max_acks_ = 0;
    std::vector<uint8_t> arena_;  // receive slots, allocated on first receive
};

}  // namespace avpn::nl
