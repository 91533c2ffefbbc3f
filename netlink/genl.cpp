#include "netlink/genl.hpp"

#include <linux/genetlink.h>

#include <string>

#include "netlink/transact.hpp"

namespace avpn::nl {

void put_genl_header(MsgWriter& w, uint16_t family, uint8_t cmd, uint8_t version, uint16_t flags) {
    w.set_type(family, flags);
    if (auto* g = w.put_fixed<genlmsghdr>()) {
        g->cmd = cmd;
        g->version = version;
    }
}

Result<uint16_t> resolve_family(Transport& genl, std::string_view name) {
    uint16_t id = 0;
    Status st = run_query(
        genl, "resolve generic netlink family", std::string(name), GENL_ID_CTRL, 0,
        [&](MsgWriter& w) {
            put_genl_header(w, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, w.header()->nlmsg_flags);
            w.put_str(CTRL_ATTR_FAMILY_NAME, name);
        },
        [&](const nlmsghdr* h) -> Status {
            AttrTable<CTRL_ATTR_MAX + 1> t{};
            if (auto msg = read_message<genlmsghdr>(h, t, "resolve generic netlink family"); !msg) return msg.error();
            id = t[CTRL_ATTR_FAMILY_ID].u16().value_or(0);
            return {};
        });
    if (!st) return st.error();
    if (!id) return Error{"resolve generic netlink family", std::string(name), "no family id in the kernel's reply"};
    return id;
}

}  // namespace avpn::nl
