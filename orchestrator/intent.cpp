#include "orchestrator/intent.hpp"

namespace avpn {

std::string SourceLoc::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string_view to_string(Role r) {
    switch (r) {
        case Role::hub: return "hub";
        case Role::spoke: return "spoke";
        case Role::off: return "off";
    }
    return "?";
}

std::string_view to_string(Transport t) { return t == Transport::wireguard ? "wireguard" : "xfrm"; }

std::string_view to_string(WgBackend b) {
    switch (b) {
        case WgBackend::automatic: return "auto";
        case WgBackend::kernel: return "kernel";
        case WgBackend::userspace: return "userspace";
    }
    return "?";
}

std::string_view to_string(IpsecPartner p) {
    switch (p) {
        case IpsecPartner::generic: return "generic";
        case IpsecPartner::aws: return "aws";
        case IpsecPartner::azure: return "azure";
    }
    return "?";
}

std::string_view to_string(IpsecTunnelType t) { return t == IpsecTunnelType::policy ? "policy" : "route"; }

std::string_view to_string(DpdAction a) {
    switch (a) {
        case DpdAction::clear: return "clear";
        case DpdAction::hold: return "hold";
        case DpdAction::restart: return "restart";
    }
    return "?";
}

std::string_view to_string(FwAction a) { return a == FwAction::allow ? "allow" : "deny"; }

}  // namespace avpn
