#include "netlink/rtnl_route.hpp"

#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink/rtnl_link.hpp"
#include "netlink/transact.hpp"

namespace avpn::nl {

namespace {

// The kernel's default IPv6 route metric (IP6_RT_PRIO_USER).
constexpr uint32_t kIpv6DefaultMetric = 1024;

std::string route_name(const Route& r) { return r.dst.str() + " table " + std::to_string(r.table); }

void put_gateway(MsgWriter& w, const Route& r) {
    if (!r.gateway) return;
    if (r.gateway->family == r.dst.family()) {
        w.put_addr(RTA_GATEWAY, *r.gateway);
        return;
    }
    // A gateway of the other family (IPv4 via IPv6 next hop) needs RTA_VIA.
    uint8_t via[2 + 16] = {};
    uint16_t fam = uint16_t(r.gateway->af());
    std::memcpy(via, &fam, sizeof fam);
    std::memcpy(via + 2, r.gateway->bytes.data(), r.gateway->size());
    w.put(RTA_VIA, via, 2 + r.gateway->size());
}

std::optional<IpAddr> parse_via(const Attr& a) {
    if (!a.present || a.data.size() < 2) return std::nullopt;
    uint16_t fam;
    std::memcpy(&fam, a.data.data(), sizeof fam);
    Attr addr = a;
    addr.data = a.data.subspan(2);
    if (fam == AF_INET) return addr.addr(Family::v4);
    if (fam == AF_INET6) return addr.addr(Family::v6);
    return std::nullopt;
}

}  // namespace

Status encode_route(MsgWriter& w, RouteOp op, const Route& r, uint32_t oif, uint8_t protocol) {
    if (r.prefsrc && r.prefsrc->family != r.dst.family())
        return Error{"encode route", route_name(r), "preferred source of the other address family"};
    uint16_t flags = op == RouteOp::add ? NLM_F_CREATE | NLM_F_EXCL
                     : op == RouteOp::replace ? NLM_F_CREATE | NLM_F_REPLACE : 0;
    w.set_type(op == RouteOp::remove ? RTM_DELROUTE : RTM_NEWROUTE, flags);
    if (auto* rtm = w.put_fixed<rtmsg>()) {
        rtm->rtm_family = uint8_t(r.dst.addr.af());
        rtm->rtm_dst_len = r.dst.len;
        rtm->rtm_table = r.table < 256 ? uint8_t(r.table) : uint8_t(RT_TABLE_UNSPEC);
        rtm->rtm_protocol = protocol;
        // A delete matches any scope; a route without gateway is on-link.
        rtm->rtm_scope = op == RouteOp::remove ? RT_SCOPE_NOWHERE
                         : r.gateway               ? RT_SCOPE_UNIVERSE
                                                   : RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;
    }
    w.put_u32(RTA_TABLE, r.table);
    if (r.dst.len) w.put_addr(RTA_DST, r.dst.addr);
    if (oif) w.put_u32(RTA_OIF, oif);
    put_gateway(w, r);
    if (r.prefsrc) w.put_addr(RTA_PREFSRC, *r.prefsrc);
    if (r.metric) w.put_u32(RTA_PRIORITY, r.metric);
    return {};
}

Result<RouteEntry> parse_route(const nlmsghdr* h) {
    AttrTable<RTA_MAX + 1> t{};
    auto msg = read_message<rtmsg>(h, t, "parse route");
    if (!msg) return msg.error();
    const rtmsg* rtm = &*msg;
    auto fam = inet_family(rtm->rtm_family);
    if (!fam) return Error{"parse route", "netlink message", "family " + std::to_string(rtm->rtm_family)};
    Family f = *fam;
    IpAddr dst;
    dst.family = f;
    if (t[RTA_DST].present) {
        auto a = t[RTA_DST].addr(f);
        if (!a) return Error{"parse route", "netlink message", "RTA_DST of the wrong length"};
        dst = *a;
    }
    if (rtm->rtm_dst_len > dst.max_len()) return Error{"parse route", dst.str(), "prefix length too long"};
    RouteEntry e;
    e.route.dst = Prefix::make(dst, rtm->rtm_dst_len);
    e.route.table = t[RTA_TABLE].u32().value_or(rtm->rtm_table);
    e.route.gateway = t[RTA_GATEWAY].addr(f);
    if (!e.route.gateway) e.route.gateway = parse_via(t[RTA_VIA]);
    e.route.prefsrc = t[RTA_PREFSRC].addr(f);
    e.route.metric = t[RTA_PRIORITY].u32().value_or(0);
    if (f == Family::v6 && e.route.metric == kIpv6DefaultMetric) e.route.metric = 0;
    e.oif = t[RTA_OIF].u32().value_or(0);
    e.protocol = rtm->rtm_protocol;
    e.type = rtm->rtm_type;
    return e;
}

Result<std::vector<Route>> dump_routes(Transport& t, const RouteFilter& filter, const LinkIndex& names) {
    DumpRequest req;
    req.what = "dump routes";
    req.where = "table " + std::to_string(filter.table) + " protocol " + std::to_string(filter.protocol);
    req.type = RTM_GETROUTE;
    // With strict checking the kernel filters by table and protocol itself.
    req.fill = [&](MsgWriter& w) {
        if (auto* rtm = w.put_fixed<rtmsg>()) {
            rtm->rtm_family = filter.family ? uint8_t(filter.family == Family::v4 ? AF_INET : AF_INET6) : AF_UNSPEC;
            rtm->rtm_table = filter.table < 256 ? uint8_t(filter.table) : uint8_t(RT_TABLE_UNSPEC);
            rtm->rtm_protocol = filter.protocol;
        }
        if (filter.table) w.put_u32(RTA_TABLE, filter.table);  // none: every table
    };
    req.empty_on_errno = ENOENT;  // the table does not exist yet: nothing in it
    auto routes = collect_dump<Route>(t, std::move(req), [&](const nlmsghdr* h, auto& out) -> Status {
        // An unfiltered dump may list multicast or MPLS routes: not avpn's kind.
        auto rtm = fixed_header<rtmsg>(h);
        if (rtm && !inet_family(rtm->rtm_family)) return {};
        auto e = parse_route(h);
        if (!e) return e.error();
        // ...and this layer filters again, for kernels that do not.
        if ((filter.table && e->route.table != filter.table) || (filter.protocol && e->protocol != filter.protocol) ||
            e->type != RTN_UNICAST)
            return {};
        if (filter.family && e->route.dst.family() != *filter.family) return {};
        e->route.ifname = names.name(e->oif);
        out.push_back(std::move(e->route));
        return {};
    });
    if (routes) sort_dumped(*routes);
    return routes;
}

}  // namespace avpn::nl
