#include "netlink/rtnl_link.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <algorithm>

#include "netlink/rtnl_addr.hpp"
#include "netlink/transact.hpp"

namespace avpn::nl {

namespace {

Status check_name(std::string_view name) {
    if (name.empty() || name.size() >= IFNAMSIZ)
        return Error{"interface name", std::string(name), "must be 1 to 15 characters"};
    return {};
}

ifinfomsg* put_ifinfo(MsgWriter& w, uint16_t type, uint16_t flags) {
    w.set_type(type, flags);
    auto* ifi = w.put_fixed<ifinfomsg>();
    if (ifi) ifi->ifi_family = AF_UNSPEC;
    return ifi;
}

// IFLA_LINKINFO { IFLA_INFO_KIND kind, IFLA_INFO_DATA { ... } }.
void put_xfrm_info(MsgWriter& w, const Link& link, uint32_t underlay_index) {
    auto info = w.begin_nest(IFLA_LINKINFO);
    if (!info) return;
    w.put_str(IFLA_INFO_KIND, "xfrm");
    if (auto data = w.begin_nest(IFLA_INFO_DATA)) {
        w.put_u32(IFLA_XFRM_IF_ID, link.xfrm_if_id);
        if (underlay_index) w.put_u32(IFLA_XFRM_LINK, underlay_index);
        w.end_nest(*data);
    }
    w.end_nest(*info);
}

void parse_info_data(const LinkState& s, Bytes data, LinkState& out) {
    if (s.kind == "vlan") {
        AttrTable<IFLA_VLAN_MAX + 1> t{};
        if (parse_attrs(data, t)) out.vlan_id = t[IFLA_VLAN_ID].u16().value_or(0);
    } else if (s.kind == "xfrm") {
        AttrTable<IFLA_XFRM_MAX + 1> t{};
        if (parse_attrs(data, t)) {
            out.xfrm_if_id = t[IFLA_XFRM_IF_ID].u32().value_or(0);
            if (auto l = t[IFLA_XFRM_LINK].u32()) out.parent = *l;
        }
    }
}

bool parse_link_info(Bytes region, LinkState& out) {
    AttrTable<IFLA_INFO_MAX + 1> t{};
    if (!parse_attrs(region, t)) return false;
    out.kind = std::string(t[IFLA_INFO_KIND].str().value_or(""));
    if (t[IFLA_INFO_DATA].present) parse_info_data(out, t[IFLA_INFO_DATA].data, out);
    return true;
}

}  // namespace

bool LinkState::up() const { return flags & IFF_UP; }

bool LinkState::carrier() const {
    return (flags & IFF_UP) && (flags & IFF_LOWER_UP) && (oper_state == IF_OPER_UP || oper_state == IF_OPER_UNKNOWN);
}

LinkIndex::LinkIndex(const std::vector<LinkState>& links) {
    for (const auto& l : links) add(l.index, l.name);
}

void LinkIndex::add(uint32_t index, std::string name) {
    by_index_[index] = name;
    by_name_[std::move(name)] = index;
}

std::optional<uint32_t> LinkIndex::index(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

std::string LinkIndex::name(uint32_t index) const {
    auto it = by_index_.find(index);
    return it == by_index_.end() ? std::string() : it->second;
}

std::optional<Link> to_model(const LinkState& s, const LinkIndex& names) {
    Link l;
    l.name = s.name;
    l.mtu = s.mtu;
    l.up = s.up();
    if (s.kind == "wireguard") {
        l.kind = LinkKind::wireguard;
        l.wg_impl = WgImpl::kernel;
    } else if (s.kind == "xfrm") {
        l.kind = LinkKind::xfrm;
        l.xfrm_if_id = s.xfrm_if_id;
        if (s.parent) l.underlay = names.name(s.parent);
    } else {
        return std::nullopt;
    }
    return l;
}

Status encode_link_create(MsgWriter& w, const Link& link, uint32_t underlay_index) {
    if (auto st = check_name(link.name); !st) return st;
    put_ifinfo(w, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    w.put_str(IFLA_IFNAME, link.name);
    if (link.mtu) w.put_u32(IFLA_MTU, link.mtu);
    if (link.kind == LinkKind::xfrm) {
        put_xfrm_info(w, link, underlay_index);
    } else if (auto info = w.begin_nest(IFLA_LINKINFO)) {
        w.put_str(IFLA_INFO_KIND, "wireguard");
        w.end_nest(*info);
    }
    return {};
}

Status encode_link_delete(MsgWriter& w, std::string_view name) {
    if (auto st = check_name(name); !st) return st;
    put_ifinfo(w, RTM_DELLINK, 0);
    w.put_str(IFLA_IFNAME, name);
    return {};
}

Status encode_link_set_up(MsgWriter& w, std::string_view name, bool up) {
    if (auto st = check_name(name); !st) return st;
    if (auto* ifi = put_ifinfo(w, RTM_NEWLINK, 0)) {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
    }
    w.put_str(IFLA_IFNAME, name);
    return {};
}

Status encode_link_raise_with_alias(MsgWriter& w, std::string_view name, std::string_view alias) {
    if (auto st = check_name(name); !st) return st;
    if (auto* ifi = put_ifinfo(w, RTM_NEWLINK, 0)) {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = IFF_UP;
    }
    w.put_str(IFLA_IFNAME, name);
    w.put_str(IFLA_IFALIAS, alias);
    return {};
}

Status encode_link_set_mtu(MsgWriter& w, std::string_view name, uint32_t mtu) {
    if (auto st = check_name(name); !st) return st;
    put_ifinfo(w, RTM_NEWLINK, 0);
    w.put_str(IFLA_IFNAME, name);
    w.put_u32(IFLA_MTU, mtu);
    return {};
}

Status encode_veth_create(MsgWriter& w, std::string_view name, std::string_view peer) {
    if (auto st = check_name(name); !st) return st;
    if (auto st = check_name(peer); !st) return st;
    put_ifinfo(w, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    w.put_str(IFLA_IFNAME, name);
    auto info = w.begin_nest(IFLA_LINKINFO);
    if (!info) return {};
    w.put_str(IFLA_INFO_KIND, "veth");
    if (auto data = w.begin_nest(IFLA_INFO_DATA)) {
        if (auto p = w.begin_nest(VETH_INFO_PEER)) {
            w.put_fixed<ifinfomsg>();  // the peer nest starts with its own ifinfomsg
            w.put_str(IFLA_IFNAME, peer);
            w.end_nest(*p);
        }
        w.end_nest(*data);
    }
    w.end_nest(*info);
    return {};
}

Result<LinkState> parse_link(const nlmsghdr* h) {
    AttrTable<IFLA_MAX + 1> t{};
    auto msg = read_message<ifinfomsg>(h, t, "parse link");
    if (!msg) return msg.error();
    const ifinfomsg* ifi = &*msg;
    LinkState s;
    s.index = uint32_t(ifi->ifi_index);
    s.flags = ifi->ifi_flags;
    s.name = std::string(t[IFLA_IFNAME].str().value_or(""));
    s.mtu = t[IFLA_MTU].u32().value_or(0);
    s.oper_state = t[IFLA_OPERSTATE].u8().value_or(0);
    s.parent = t[IFLA_LINK].u32().value_or(0);
    s.alias = std::string(t[IFLA_IFALIAS].str().value_or(""));
    if (s.parent == s.index) s.parent = 0;  // some drivers report themselves
    if (t[IFLA_LINKINFO].present && !parse_link_info(t[IFLA_LINKINFO].data, s))
        return Error{"parse link", s.name, "malformed IFLA_LINKINFO"};
    return s;
}

Result<std::vector<LinkState>> dump_links(Transport& t) {
    DumpRequest req;
    req.what = "dump links";
    req.type = RTM_GETLINK;
    req.fill = [](MsgWriter& w) { w.put_fixed<ifinfomsg>(); };
    auto dumped = collect_dump<LinkState>(t, std::move(req), [](const nlmsghdr* h, auto& out) -> Status {
        auto l = parse_link(h);
        if (!l) return l.error();
        out.push_back(std::move(*l));
        return {};
    });
    if (!dumped) return dumped.error();
    std::vector<LinkState>& links = *dumped;
    std::sort(links.begin(), links.end(), [](const auto& a, const auto& b) { return a.index < b.index; });

    LinkIndex names(links);
    auto addrs = dump_address_entries(t, std::nullopt);
    if (!addrs) return addrs.error();
    for (auto& e : *addrs) {
        auto it = std::lower_bound(links.begin(), links.end(), e.ifindex,
                                   [](const LinkState& l, uint32_t i) { return l.index < i; });
        if (it == links.end() || it->index != e.ifindex) continue;  // link went away meanwhile
        e.address.ifname = it->name;
        it->addresses.push_back(std::move(e.address));
    }
    for (auto& l : links) std::sort(l.addresses.begin(), l.addresses.end());
    return dumped;
}

Result<uint32_t> link_index(Transport& t, std::string_view name) {
    if (auto st = check_name(name); !st) return st.error();
    uint32_t index = 0;
    Status st = run_query(
        t, "look up interface", std::string(name), RTM_GETLINK, 0,
        [&](MsgWriter& w) {
            w.put_fixed<ifinfomsg>();
            w.put_str(IFLA_IFNAME, name);
        },
        [&](const nlmsghdr* h) -> Status {
            if (auto ifi = fixed_header<ifinfomsg>(h)) index = uint32_t(ifi->ifi_index);
            return {};
        });
    if (!st) return st.error();
    if (!index) return Error{"look up interface", std::string(name), "no index in the kernel's reply"};
    return index;
}

}  // namespace avpn::nl
