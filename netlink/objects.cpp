#include "netlink/objects.hpp"

namespace avpn::nl {

std::string_view to_string(LinkKind k) { return k == LinkKind::wireguard ? "wireguard" : "xfrm"; }
std::string_view to_string(WgImpl i) {
    return i == WgImpl::kernel ? "kernel" : i == WgImpl::userspace ? "userspace" : "auto";
}

std::string_view to_string(XfrmDir d) {
    switch (d) {
        case XfrmDir::in: return "in";
        case XfrmDir::out: return "out";
        case XfrmDir::fwd: return "fwd";
    }
    return "?";
}

std::string_view to_string(XfrmAction a) { return a == XfrmAction::allow ? "allow" : "block"; }

}  // namespace avpn::nl
