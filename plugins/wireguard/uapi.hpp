// The userspace backend: the UAPI text protocol over the unix stream socket a
// userspace WireGuard (wireguard-go, boringtun) creates per interface.
#pragma once

#include <string>
#include <vector>

#include "plugins/wireguard/backend.hpp"

namespace avpn::wg {

inline constexpr const char* kUapiSocketDir = "/var/run/wireguard";

struct UapiOptions {
    std::string socket_dir = kUapiSocketDir;  // tests point this elsewhere
    int timeout_ms = 5000;                    // the longest wait without progress
    size_t max_response_bytes = 64u << 20;    // a get of ~100k peers
    size_t max_line_bytes = 4096;
};

// An interface name the kernel would take (1-15 bytes, no '/', no
// whitespace, not "." or ".."); it becomes part of a socket path.
Status check_ifname(const std::string& ifname);
std::string uapi_socket_path(const std::string& socket_dir, const std::string& ifname);
// True when a unix socket (not merely a file) sits at the interface's path.
bool uapi_socket_exists(const std::string& socket_dir, const std::string& ifname);
// Interfaces with a socket in socket_dir, sorted ("<ifname>.sock").
Result<std::vector<std::string>> list_uapi_interfaces(const std::string& socket_dir);

class UapiBackend final : public WgBackend {
public:
    explicit UapiBackend(UapiOptions options = {}) : opt_(std::move(options)) {}
    std::string_view name() const override { return "userspace"; }
    Result<nl::WgDevice> get(const std::string& ifname) override;
    Result<WgDeviceStatus> status(const std::string& ifname) override;
    // Streams the request; UAPI is not transactional: on an error the daemon
    // keeps whatever it applied before the failing line.
    Status set(const WgDeviceChange& change) override;

private:
    UapiOptions opt_;
};

}  // namespace avpn::wg
