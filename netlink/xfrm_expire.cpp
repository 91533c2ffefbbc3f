#include "netlink/xfrm_expire.hpp"

#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "netlink/error.hpp"
#include "netlink/xfrm_wire.hpp"

namespace avpn::nl {

using namespace xfrm_wire;

Result<XfrmExpire> parse_expire(const nlmsghdr* h) {
    if (h->nlmsg_type != XFRM_MSG_EXPIRE)
        return Error{"parse xfrm expire", "netlink message", "type " + std::to_string(h->nlmsg_type)};
    AttrTable<XFRMA_MAX + 1> t{};
    auto msg = read_message<xfrm_user_expire>(h, t, "parse xfrm expire");
    if (!msg) return msg.error();
    const xfrm_usersa_info& s = msg->state;
    auto f = inet_family(s.family);
    if (!f) return Error{"parse xfrm expire", "netlink message", "family " + std::to_string(s.family)};
    XfrmExpire e;
    e.dst = from_wire(s.id.daddr, *f);
    e.spi = ntohl(s.id.spi);
    e.proto = s.id.proto;
    e.hard = msg->hard != 0;
    e.src = from_wire(s.saddr, *f);
    e.reqid = s.reqid;
    e.mark = get_mark(t[XFRMA_MARK]);
    e.if_id = t[XFRMA_IF_ID].u32().value_or(0);
    e.bytes = s.curlft.bytes;
    e.packets = s.curlft.packets;
    return e;
}

Status encode_expire(MsgWriter& w, const XfrmExpire& e) {
    if (e.src.family != e.dst.family) return Error{"encode xfrm expire", "", "outer addresses of two families"};
    w.set_type(XFRM_MSG_EXPIRE, 0);
    xfrm_user_expire ue;  // u64 lifetimes inside: built here, copied in
    std::memset(&ue, 0, sizeof ue);
    ue.state.id.daddr = to_wire(e.dst);
    ue.state.id.spi = htonl(e.spi);
    ue.state.id.proto = e.proto;
    ue.state.saddr = to_wire(e.src);
    ue.state.family = uint16_t(e.dst.af());
    ue.state.reqid = e.reqid;
    ue.state.curlft.bytes = e.bytes;
    ue.state.curlft.packets = e.packets;
    ue.hard = e.hard;
    w.put_struct(ue);
    put_mark(w, e.mark);
    if (e.if_id) w.put_u32(XFRMA_IF_ID, e.if_id);
    return {};
}

Result<ExpireWatch> ExpireWatch::open() {
    auto s = Socket::open(NETLINK_XFRM);
    if (!s) return s.error();
    unsigned group = XFRMNLGRP_EXPIRE;
    if (setsockopt(s->fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
        return system_error("watch xfrm expiries", "netlink group XFRMNLGRP_EXPIRE", errno);
    return ExpireWatch(std::move(*s));
}

ExpireDrain ExpireWatch::drain() {
    ExpireDrain out;
    std::array<uint8_t, 16 * 1024> buf;  // expiries carry no keys: nothing to wipe
    for (;;) {
        ssize_t n = recv(sock_.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ENOBUFS) {
            out.overrun = true;
            continue;
        }
        if (n <= 0) return out;
        MsgReader r(Bytes(buf.data(), size_t(n)));
        const nlmsghdr* h = nullptr;
        while (r.next(h))
            if (auto e = parse_expire(h)) out.expired.push_back(std::move(*e));
    }
}

}  // namespace avpn::nl
