#include "netlink/describe.hpp"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include <cstdio>

#include "netlink/rtnl_addr.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/rtnl_rule.hpp"
#include "netlink/xfrm.hpp"
#include "netlink/xfrm_wire.hpp"

namespace avpn::nl {

namespace {

std::string verb(const nlmsghdr* h, bool is_new) {
    if (!is_new) return "delete";
    if (h->nlmsg_flags & NLM_F_REPLACE) return "replace";
    return "add";
}

Description route(const nlmsghdr* h) {
    Description d{verb(h, h->nlmsg_type == RTM_NEWROUTE) + " route", "?"};
    if (auto e = parse_route(h)) {
        d.where = e->route.dst.str() + " table " + std::to_string(e->route.table);
        if (e->oif) d.where += " dev #" + std::to_string(e->oif);
        if (e->route.gateway) d.where += " via " + e->route.gateway->str();
        d.where += " proto " + std::to_string(e->protocol);
    }
    return d;
}

Description rule(const nlmsghdr* h) {
    Description d{verb(h, h->nlmsg_type == RTM_NEWRULE) + " rule", "?"};
    if (auto r = parse_rule(h)) {
        d.where = "priority " + std::to_string(r->priority) + " table " + std::to_string(r->table);
        if (r->src) d.where += " from " + r->src->str();
        if (r->dst) d.where += " to " + r->dst->str();
        if (r->fwmark || r->fwmask) d.where += " fwmark " + std::to_string(r->fwmark) + "/" + std::to_string(r->fwmask);
    }
    return d;
}

Description address(const nlmsghdr* h) {
    Description d{verb(h, h->nlmsg_type == RTM_NEWADDR) + " address", "?"};
    if (auto a = parse_address(h))
        d.where = a->address.address.str() + "/" + std::to_string(a->address.prefix_len) + " dev #" +
                  std::to_string(a->ifindex);
    return d;
}

Description link(const nlmsghdr* h) {
    std::string what = h->nlmsg_type == RTM_DELLINK         ? "delete link"
                       : (h->nlmsg_flags & NLM_F_CREATE) ? "create link"
                                                         : "change link";
    Description d{what, "?"};
    if (auto l = parse_link(h)) d.where = !l->name.empty() ? l->name : "#" + std::to_string(l->index);
    if (auto l = parse_link(h); l && !l->kind.empty()) d.where += " (" + l->kind + ")";
    return d;
}

Description route_family(const nlmsghdr* h) {
    switch (h->nlmsg_type) {
        case RTM_NEWROUTE:
        case RTM_DELROUTE: return route(h);
        case RTM_NEWRULE:
        case RTM_DELRULE: return rule(h);
        case RTM_NEWADDR:
        case RTM_DELADDR: return address(h);
        case RTM_NEWLINK:
        case RTM_DELLINK: return link(h);
    }
    return {"rtnetlink request", "type " + std::to_string(h->nlmsg_type)};
}

Description xfrm_delete_sa(const nlmsghdr* h) {
    Description d{"delete xfrm sa", "?"};
    auto id = fixed_header<xfrm_usersa_id>(h);
    if (auto f = id ? inet_family(id->family) : std::nullopt) {
        char spi[16];
        std::snprintf(spi, sizeof spi, "0x%08x", ntohl(id->spi));
        d.where = "sa ->" + xfrm_wire::from_wire(id->daddr, *f).str() + " spi " + spi;
    }
    return d;
}

Description xfrm_delete_policy(const nlmsghdr* h) {
    Description d{"delete xfrm policy", "?"};
    auto id = fixed_header<xfrm_userpolicy_id>(h);
    if (auto f = id ? inet_family(id->sel.family) : std::nullopt) {
        auto src = Prefix::make(xfrm_wire::from_wire(id->sel.saddr, *f), id->sel.prefixlen_s);
        auto dst = Prefix::make(xfrm_wire::from_wire(id->sel.daddr, *f), id->sel.prefixlen_d);
        d.where = "policy " + src.str() + "->" + dst.str() + " dir " + std::to_string(id->dir);
    }
    return d;
}

Description xfrm_family(const nlmsghdr* h) {
    switch (h->nlmsg_type) {
        case XFRM_MSG_NEWSA:
        case XFRM_MSG_UPDSA: {
            Description d{h->nlmsg_type == XFRM_MSG_NEWSA ? "add xfrm sa" : "update xfrm sa", "?"};
            if (auto sa = parse_sa(h)) d.where = sa_name(*sa);
            return d;
        }
        case XFRM_MSG_NEWPOLICY:
        case XFRM_MSG_UPDPOLICY: {
            Description d{h->nlmsg_type == XFRM_MSG_NEWPOLICY ? "add xfrm policy" : "update xfrm policy", "?"};
            if (auto p = parse_policy(h)) d.where = policy_name(*p);
            return d;
        }
        case XFRM_MSG_DELSA: return xfrm_delete_sa(h);
        case XFRM_MSG_DELPOLICY: return xfrm_delete_policy(h);
    }
    return {"xfrm request", "type " + std::to_string(h->nlmsg_type)};
}

Description generic_family(const nlmsghdr* h) {
    Description d{"generic netlink request", "family " + std::to_string(h->nlmsg_type)};
    if (auto g = fixed_header<genlmsghdr>(h)) d.where += " command " + std::to_string(g->cmd);
    return d;
}

}  // namespace

Description describe_request(int protocol, const nlmsghdr* h) {
    if (!h) return {"request", "?"};
    switch (protocol) {
        case NETLINK_ROUTE: return route_family(h);
        case NETLINK_XFRM: return xfrm_family(h);
        case NETLINK_GENERIC: return generic_family(h);
    }
    return {"netlink request", "protocol " + std::to_string(protocol) + " type " + std::to_string(h->nlmsg_type)};
}

}  // namespace avpn::nl
