// Shared helpers of the WireGuard unit tests: keys, models, a temporary
// folder, and a scripted UAPI daemon on a real unix socket.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/crypto.hpp"
#include "netlink/objects.hpp"

namespace avpn::wg::test {

struct KeyPair {
    crypto::Key32 priv{};
    std::string public_b64;
};
KeyPair make_key_pair();
std::string random_public_key();  // base64

Prefix pfx(const char* text);
Endpoint ep(const char* text);
nl::WgPeer peer(std::string key, std::vector<const char*> ips, const char* endpoint = nullptr,
                uint16_t keepalive = 0);

class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Accepts connections on <dir>/<ifname>.sock in a thread. For each one it
// reads the request (up to its empty line, or only `read_limit` bytes when
// set), remembers it, and writes respond(request) unless that is empty (then
// it holds the connection silently until destroyed).
class FakeUapiDaemon {
public:
    using Responder = std::function<std::string(const std::string& request)>;
    FakeUapiDaemon(const std::string& dir, const std::string& ifname, Responder respond,
                   size_t read_limit = 0);
    ~FakeUapiDaemon();
    std::string last_request() const;
    int connections() const { return connections_.load(); }

private:
    void serve();
    void handle(int fd);

    int listen_fd_ = -1;
    Responder respond_;
    size_t read_limit_;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    mutable std::mutex mu_;
    std::string last_request_;
    std::thread thread_;
};

}  // namespace avpn::wg::test
