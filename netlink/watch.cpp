#include "netlink/watch.hpp"

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "common/crypto.hpp"
#include "netlink/error.hpp"

namespace avpn::nl {

namespace {

Status join(Socket& s, std::initializer_list<unsigned> groups) {
    for (unsigned g : groups)
        if (setsockopt(s.fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0)
            return system_error("watch kernel changes", "netlink group " + std::to_string(g), errno);
    return {};
}

std::string name_of(uint32_t ifindex) {
    char buf[IF_NAMESIZE] = {};
    return ifindex && if_indextoname(ifindex, buf) ? std::string(buf) : std::string();
}

std::optional<KernelEvent> parse_rtnl(const nlmsghdr* h) {
    KernelEvent e;
    e.sender = h->nlmsg_pid;
    switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            AttrTable<IFLA_MAX + 1> t;
            auto m = read_message<ifinfomsg>(h, t, "parse link event");
            if (!m) return std::nullopt;
            e.kind = EventKind::link;
            e.ifindex = uint32_t(m->ifi_index);
            e.ifname = std::string(t[IFLA_IFNAME].str().value_or(""));
            break;
        }
        case RTM_NEWADDR:
        case RTM_DELADDR: {
            AttrTable<IFA_MAX + 1> t;
            auto m = read_message<ifaddrmsg>(h, t, "parse address event");
            if (!m) return std::nullopt;
            e.kind = EventKind::address;
            e.ifindex = m->ifa_index;
            e.ifname = name_of(e.ifindex);
            if (auto a = t[IFA_ADDRESS].addr(Family::v6))
                e.link_local = a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80;
            break;
        }
        case RTM_NEWROUTE:
        case RTM_DELROUTE: {
            AttrTable<RTA_MAX + 1> t;
            auto m = read_message<rtmsg>(h, t, "parse route event");
            if (!m) return std::nullopt;
            e.kind = EventKind::route;
            e.table = t[RTA_TABLE].u32().value_or(m->rtm_table);
            e.protocol = m->rtm_protocol;
            e.ifindex = t[RTA_OIF].u32().value_or(0);
            e.dst_len = m->rtm_dst_len;
            break;
        }
        case RTM_NEWRULE:
        case RTM_DELRULE: {
            AttrTable<FRA_MAX + 1> t;
            auto m = read_message<fib_rule_hdr>(h, t, "parse rule event");
            if (!m) return std::nullopt;
            e.kind = EventKind::rule;
            e.priority = t[FRA_PRIORITY].u32().value_or(0);
            e.table = t[FRA_TABLE].u32().value_or(m->table);
            e.protocol = t[FRA_PROTOCOL].u8().value_or(0);
            break;
        }
        default: return std::nullopt;
    }
    e.removed = h->nlmsg_type == RTM_DELLINK || h->nlmsg_type == RTM_DELADDR || h->nlmsg_type == RTM_DELROUTE ||
                h->nlmsg_type == RTM_DELRULE;
    return e;
}

// The fixed header of each XFRM notification, so the attributes (XFRMA_IF_ID)
// can be found after it.
size_t xfrm_fixed_len(uint16_t type) {
    switch (type) {
        case XFRM_MSG_NEWPOLICY:
        case XFRM_MSG_UPDPOLICY: return sizeof(xfrm_userpolicy_info);
        case XFRM_MSG_DELPOLICY: return sizeof(xfrm_userpolicy_id);
        case XFRM_MSG_POLEXPIRE: return sizeof(xfrm_user_polexpire);
        case XFRM_MSG_NEWSA:
        case XFRM_MSG_UPDSA: return sizeof(xfrm_usersa_info);
        case XFRM_MSG_DELSA: return sizeof(xfrm_usersa_id);
        case XFRM_MSG_EXPIRE: return sizeof(xfrm_user_expire);
        default: return 0;
    }
}

std::optional<KernelEvent> parse_xfrm(const nlmsghdr* h) {
    KernelEvent e;
    e.sender = h->nlmsg_pid;
    const uint16_t type = h->nlmsg_type;
    if (type == XFRM_MSG_FLUSHSA || type == XFRM_MSG_FLUSHPOLICY) {
        e.kind = EventKind::xfrm_flush;
        e.removed = true;
        return e;
    }
    size_t fixed = xfrm_fixed_len(type);
    if (!fixed || h->nlmsg_len < NLMSG_LENGTH(fixed)) return std::nullopt;
    // A soft expiry changes nothing in the kernel (the SA stays; a keying
    // daemon rekeys on it, xfrm_expire.hpp); a hard one deleted the SA.
    if (type == XFRM_MSG_EXPIRE && !static_cast<const xfrm_user_expire*>(NLMSG_DATA(h))->hard) return std::nullopt;
    const bool policy = type == XFRM_MSG_NEWPOLICY || type == XFRM_MSG_UPDPOLICY || type == XFRM_MSG_DELPOLICY ||
                        type == XFRM_MSG_POLEXPIRE;
    e.kind = policy ? EventKind::xfrm_policy : EventKind::xfrm_sa;
    e.removed = type == XFRM_MSG_DELPOLICY || type == XFRM_MSG_DELSA || type == XFRM_MSG_EXPIRE ||
                type == XFRM_MSG_POLEXPIRE;
    AttrTable<XFRMA_MAX + 1> t;
    if (!parse_attrs(attrs_after(h, fixed), t)) return std::nullopt;
    e.if_id = t[XFRMA_IF_ID].u32().value_or(0);
    return e;
}

}  // namespace

std::optional<KernelEvent> parse_event(int protocol, const nlmsghdr* h) {
    return protocol == NETLINK_XFRM ? parse_xfrm(h) : parse_rtnl(h);
}

Result<Watch> Watch::open() {
    // Notifications come in bursts (a 10,000-route apply): a large queue
    // keeps overruns rare, and an overrun only costs a full re-read.
    SocketOptions opts;
    opts.rcvbuf = 8 << 20;
    auto rtnl = Socket::open(NETLINK_ROUTE, opts);
    if (!rtnl) return rtnl.error();
    if (Status s = join(*rtnl, {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE});
        !s)
        return s.error();
    std::optional<Socket> xfrm;
    if (auto x = Socket::open(NETLINK_XFRM, opts)) {
        if (Status s = join(*x, {XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_EXPIRE}); !s) return s.error();
        xfrm = std::move(*x);
    }
    return Watch(std::move(*rtnl), std::move(xfrm));
}

std::vector<KernelEvent> Watch::drain() {
    std::vector<KernelEvent> out;
    static thread_local std::array<uint8_t, 64 * 1024> buf;
    auto read_all = [&](Socket& s) {
        for (;;) {
            ssize_t n = recv(s.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == ENOBUFS) {
                out.push_back(KernelEvent{});  // overrun
                continue;
            }
            if (n <= 0) return;
            MsgReader r(Bytes(buf.data(), size_t(n)));
            const nlmsghdr* h = nullptr;
            while (r.next(h))
                if (auto e = parse_event(s.protocol(), h)) out.push_back(std::move(*e));
            // XFRM SA notifications carry keys: they do not outlive parsing.
            if (s.protocol() == NETLINK_XFRM) crypto::wipe(buf.data(), size_t(n));
        }
    };
    read_all(rtnl_);
    if (xfrm_) read_all(*xfrm_);
    return out;
}

}  // namespace avpn::nl
