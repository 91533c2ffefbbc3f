// Which backend drives an interface. The rule (as wireguard-tools has it):
// a UAPI socket for the interface wins, else the kernel's generic netlink.
// Forcing "userspace" for an interface without a socket starts wireguard-go.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/wireguard/backend.hpp"
#include "plugins/wireguard/uapi.hpp"
#include "plugins/wireguard/wireguard_go.hpp"

namespace avpn::wg {

enum class BackendPreference : uint8_t { automatic, kernel, userspace };
enum class BackendKind : uint8_t { kernel, userspace };

std::string_view to_string(BackendPreference p);  // "auto" | "kernel" | "userspace"
std::optional<BackendPreference> parse_backend_preference(std::string_view text);

// The decision alone: one stat() of the interface's UAPI socket.
BackendKind choose_backend(const std::string& ifname, BackendPreference preference,
                           const std::string& socket_dir);

using KernelBackendFactory = std::function<Result<std::unique_ptr<WgBackend>>()>;

// The real kernel backend (kernel.cpp): a generic netlink socket.
Result<std::unique_ptr<WgBackend>> make_kernel_backend();

struct SelectOptions {
    UapiOptions uapi;
    WireguardGoOptions wireguard_go;  // its socket_dir should equal uapi.socket_dir
    // Builds the kernel backend (tests inject their own); empty: not available.
    KernelBackendFactory make_kernel = make_kernel_backend;
};

struct SelectedBackend {
    std::unique_ptr<WgBackend> backend;
    std::optional<pid_t> started_daemon;  // set when wireguard-go was started here
};

Result<SelectedBackend> select_backend(const std::string& ifname, BackendPreference preference,
                                       const SelectOptions& options);

}  // namespace avpn::wg
