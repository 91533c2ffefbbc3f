#include "plugins/wireguard/select.hpp"

namespace avpn::wg {

std::string_view to_string(BackendPreference p) {
    switch (p) {
        case BackendPreference::automatic: return "auto";
        case BackendPreference::kernel: return "kernel";
        case BackendPreference::userspace: return "userspace";
    }
    return "?";
}

std::optional<BackendPreference> parse_backend_preference(std::string_view text) {
    for (auto p : {BackendPreference::automatic, BackendPreference::kernel, BackendPreference::userspace})
        if (text == to_string(p)) return p;
    return std::nullopt;
}

BackendKind choose_backend(const std::string& ifname, BackendPreference preference,
                           const std::string& socket_dir) {
    switch (preference) {
        case BackendPreference::kernel: return BackendKind::kernel;
        case BackendPreference::userspace: return BackendKind::userspace;
        case BackendPreference::automatic: break;
    }
    return uapi_socket_exists(socket_dir, ifname) ? BackendKind::userspace : BackendKind::kernel;
}

Result<SelectedBackend> select_backend(const std::string& ifname, BackendPreference preference,
                                       const SelectOptions& options) {
    SelectedBackend out;
    if (choose_backend(ifname, preference, options.uapi.socket_dir) == BackendKind::kernel) {
        if (!options.make_kernel)
            return Error{"select WireGuard backend", ifname, "the kernel backend is not available in this build"};
        auto kernel = options.make_kernel();
        if (!kernel) return kernel.error();
        out.backend = std::move(*kernel);
        return out;
    }
    if (!uapi_socket_exists(options.uapi.socket_dir, ifname)) {
        auto pid = start_wireguard_go(ifname, options.wireguard_go);
        if (!pid) return pid.error();
        out.started_daemon = *pid;
    }
    out.backend = std::make_unique<UapiBackend>(options.uapi);
    return out;
}

}  // namespace avpn::wg
