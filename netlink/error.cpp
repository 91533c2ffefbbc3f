#include "netlink/error.hpp"

#include <cstring>

namespace avpn::nl {

std::string errno_text(int err) {
    std::string s = std::strerror(err);
    if (const char* name = strerrorname_np(err)) s += std::string(" (") + name + ")";
    return s;
}

Error kernel_error(std::string what, std::string where, const KernelReply& reply) {
    std::string why = errno_text(reply.error);
    if (!reply.message.empty()) why += "; kernel: " + std::string(reply.message);
    return Error{std::move(what), std::move(where), std::move(why), reply.error};
}

Error system_error(std::string what, std::string where, int err) {
    return Error{std::move(what), std::move(where), errno_text(err), err};
}

}  // namespace avpn::nl
