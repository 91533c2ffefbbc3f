#include "netlink/rtnl_addr.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <algorithm>

#include "netlink/rtnl_link.hpp"
#include "netlink/transact.hpp"

namespace avpn::nl {

Status encode_address(MsgWriter& w, AddrOp op, const InterfaceAddress& a, uint32_t ifindex) {
    if (a.prefix_len > a.address.max_len())
        return Error{"encode address", a.address.str(), "prefix length " + std::to_string(a.prefix_len) + " too long"};
    if (!ifindex) return Error{"encode address", a.address.str() + " dev " + a.ifname, "interface index unknown"};
    w.set_type(op == AddrOp::add ? RTM_NEWADDR : RTM_DELADDR, op == AddrOp::add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    if (auto* ifa = w.put_fixed<ifaddrmsg>()) {
        ifa->ifa_family = uint8_t(a.address.af());
        ifa->ifa_prefixlen = a.prefix_len;
        ifa->ifa_index = ifindex;
    }
    // Local and peer equal: a plain (not point-to-point) address, both families.
    w.put_addr(IFA_LOCAL, a.address);
    w.put_addr(IFA_ADDRESS, a.address);
    return {};
}

Result<AddressEntry> parse_address(const nlmsghdr* h) {
    AttrTable<IFA_MAX + 1> t{};
    auto msg = read_message<ifaddrmsg>(h, t, "parse address");
    if (!msg) return msg.error();
    const ifaddrmsg* ifa = &*msg;
    auto fam = inet_family(ifa->ifa_family);
    if (!fam) return Error{"parse address", "netlink message", "family " + std::to_string(ifa->ifa_family)};
    Family f = *fam;
    // IFA_LOCAL is the address itself; IFA_ADDRESS the peer on point-to-point links.
    auto addr = t[IFA_LOCAL].addr(f);
    if (!addr) addr = t[IFA_ADDRESS].addr(f);
    if (!addr) return Error{"parse address", "netlink message", "no address attribute"};
    AddressEntry e;
    e.ifindex = ifa->ifa_index;
    e.address.address = *addr;
    e.address.prefix_len = ifa->ifa_prefixlen;
    return e;
}

Result<std::vector<AddressEntry>> dump_address_entries(Transport& t, std::optional<uint32_t> ifindex) {
    DumpRequest req;
    req.what = "dump addresses";
    if (ifindex) req.where = "interface #" + std::to_string(*ifindex);
    req.type = RTM_GETADDR;
    req.fill = [&](MsgWriter& w) {
        if (auto* ifa = w.put_fixed<ifaddrmsg>()) ifa->ifa_index = ifindex.value_or(0);
    };
    return collect_dump<AddressEntry>(t, std::move(req), [&](const nlmsghdr* h, auto& out) -> Status {
        auto e = parse_address(h);
        if (!e) return e.error();
        // Kernels without strict dump checking ignore the index filter.
        if (!ifindex || e->ifindex == *ifindex) out.push_back(std::move(*e));
        return {};
    });
}

Result<std::vector<InterfaceAddress>> dump_addresses(Transport& t, const LinkIndex& names,
                                                     std::optional<uint32_t> ifindex) {
    auto entries = dump_address_entries(t, ifindex);
    if (!entries) return entries.error();
    std::vector<InterfaceAddress> out;
    out.reserve(entries->size());
    for (auto& e : *entries) {
        e.address.ifname = names.name(e.ifindex);
        out.push_back(std::move(e.address));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace avpn::nl
