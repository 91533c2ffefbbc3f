// The registry's UDP socket: one bound socket, non-blocking, read in
// batches. Nothing registry-specific: datagrams and endpoints.
#pragma once

#include <optional>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"

namespace avpn::registry {

class UdpSocket {
public:
    static Result<UdpSocket> bind(const Endpoint& at);
    UdpSocket(UdpSocket&& o) noexcept : fd_(o.fd_), local_(o.local_) { o.fd_ = -1; }
    UdpSocket& operator=(UdpSocket&&) = delete;
    UdpSocket(const UdpSocket&) = delete;
    ~UdpSocket();

    int fd() const { return fd_; }
    const Endpoint& local() const { return local_; }  // the port the kernel chose for port 0
    // The next datagram, nullopt when none waits.
    struct Datagram {
        Endpoint from;
        std::vector<uint8_t> bytes;
    };
    Result<std::optional<Datagram>> receive();
    // Best effort, as UDP: a full socket buffer drops (Error.code EAGAIN).
    Status send(const Endpoint& to, const std::vector<uint8_t>& bytes);

private:
    UdpSocket(int fd, Endpoint local) : fd_(fd), local_(local) {}
    int fd_ = -1;
    Endpoint local_;
};

}  // namespace avpn::registry
