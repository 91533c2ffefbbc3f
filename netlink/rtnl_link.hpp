// rtnetlink links: create/delete avpn's WireGuard and XFRM interfaces, set
// them up or down, resolve names, and dump every link with what the planner
// and status need (kind, flags, oper state, VLAN id, addresses).
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

// A link as the kernel reports it. Richer than the model's Link (which only
// describes links avpn creates); to_model() narrows it.
struct LinkState {
    uint32_t index = 0;
    std::string name;
    std::string kind;        // IFLA_INFO_KIND: "wireguard", "xfrm", "veth", "vlan"; "" for plain devices
    uint32_t flags = 0;      // IFF_UP, IFF_LOWER_UP, ...
    uint8_t oper_state = 0;  // IF_OPER_UP, IF_OPER_DOWN, ...
    uint32_t mtu = 0;
    uint32_t parent = 0;      // IFLA_LINK: a VLAN's or an XFRM interface's underlying device
    uint16_t vlan_id = 0;     // 802.1Q subinterfaces
    uint32_t xfrm_if_id = 0;  // xfrm interfaces
    std::string alias;        // IFLA_IFALIAS: avpn marks its own links with it
    std::vector<InterfaceAddress> addresses;  // filled by dump_links

    bool up() const;
    // Up, with carrier (IFF_LOWER_UP), operstate up or unknown (PPP and
    // tunnel devices report unknown): it can carry packets.
    bool carrier() const;
    auto operator<=>(const LinkState&) const = default;
};

// Interface names <-> indexes, from one link dump. Routes and addresses name
// their interface in the model but carry an index on the wire.
class LinkIndex {
public:
    LinkIndex() = default;
    explicit LinkIndex(const std::vector<LinkState>& links);
    void add(uint32_t index, std::string name);
    std::optional<uint32_t> index(std::string_view name) const;
    std::string name(uint32_t index) const;  // "" when unknown

private:
    std::unordered_map<std::string, uint32_t> by_name_;
    std::unordered_map<uint32_t, std::string> by_index_;
};

// The model's view of an avpn-kind link (wireguard or xfrm); nullopt for others.
std::optional<Link> to_model(const LinkState& link, const LinkIndex& names);

// Encoders (type, flags and body; a Batch adds seq and NLM_F_ACK).
Status encode_link_create(MsgWriter& w, const Link& link, uint32_t underlay_index);
// The create failed because this kernel has no driver for the link's kind (not
// built, module absent or not loadable): rtnl_newlink answers EOPNOTSUPP, with
// "Unknown device type" in the extack.
inline bool link_kind_unsupported(const Error& create_failure) { return create_failure.code == EOPNOTSUPP; }
Status encode_link_delete(MsgWriter& w, std::string_view name);
Status encode_link_set_up(MsgWriter& w, std::string_view name, bool up);
// Raises the link and sets its alias in one request.
Status encode_link_raise_with_alias(MsgWriter& w, std::string_view name, std::string_view alias);
Status encode_link_set_mtu(MsgWriter& w, std::string_view name, uint32_t mtu);
// A veth pair, for test topologies and examples (avpn itself creates none).
Status encode_veth_create(MsgWriter& w, std::string_view name, std::string_view peer);

Result<LinkState> parse_link(const nlmsghdr* h);

// Every link, with its addresses.
Result<std::vector<LinkState>> dump_links(Transport& t);
Result<uint32_t> link_index(Transport& t, std::string_view name);

}  // namespace avpn::nl
