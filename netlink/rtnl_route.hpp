// rtnetlink routes in avpn's tables. Every route avpn writes carries its
// rtm_protocol; dumps and deletes are filtered by {table, protocol}, so an
// operator's routes in the same table (another protocol) or in main are
// never read as avpn's nor removed.
#pragma once

#include <optional>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

class LinkIndex;

enum class RouteOp : uint8_t { add, replace, remove };

// Which routes a dump returns: one table, one protocol, optionally one family.
struct RouteFilter {
    uint32_t table = 0;     // 0: every table
    uint8_t protocol = 0;   // 0: any (an uplink's default route is the operator's or DHCP's)
    std::optional<Family> family;
};

// A route as reported, with the wire fields the model leaves implicit.
struct RouteEntry {
    Route route;  // ifname empty until resolved
    uint32_t oif = 0;
    uint8_t protocol = 0;
    uint8_t type = 0;  // RTN_UNICAST, ...
};

// Tables above 255 go in RTA_TABLE (rtm_table is 8 bits); RTA_TABLE is always sent.
// IPv6: metric 0 means the kernel's default (1024), which dumps report as 0 again.
Status encode_route(MsgWriter& w, RouteOp op, const Route& r, uint32_t oif, uint8_t protocol);
Result<RouteEntry> parse_route(const nlmsghdr* h);

// Unicast routes matching the filter, as model values (ifname through
// names), sorted. A table that does not exist yet is an empty result.
Result<std::vector<Route>> dump_routes(Transport& t, const RouteFilter& filter, const LinkIndex& names);

}  // namespace avpn::nl
