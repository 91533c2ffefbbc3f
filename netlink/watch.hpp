// Kernel change notifications (rtnetlink and XFRM multicast groups), read
// into small typed events: what kind of object changed, who asked for the
// change (the netlink port id in the message: a process's own writes can be
// told from an operator's) and the few fields an owner test needs. No
// policy: the daemon decides which events concern avpn.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

enum class EventKind : uint8_t { link, address, route, rule, xfrm_policy, xfrm_sa, xfrm_flush, overrun };

struct KernelEvent {
    EventKind kind = EventKind::overrun;
    bool removed = false;      // RTM_DEL*, XFRM_MSG_DEL*, expire
    uint32_t sender = 0;       // nlmsg_pid: the requesting socket's port id; 0: the kernel itself
    std::string ifname;        // link (and address, when the interface still exists)
    uint32_t ifindex = 0;      // link, address, route (output interface)
    uint32_t table = 0;        // route, rule
    uint8_t dst_len = 0;       // route: its prefix length (0: a default route)
    uint8_t protocol = 0;      // route: rtm_protocol; rule: FRA_PROTOCOL
    uint32_t priority = 0;     // rule
    uint32_t if_id = 0;        // XFRM policy or SA (0: none)
    // address: an IPv6 link-local one (fe80::/10), which the kernel adds and
    // settles (DAD) on every interface by itself
    bool link_local = false;
};

// Overrun: the kernel dropped notifications (ENOBUFS); the listener must
// assume anything changed and read the kernel again.
class Watch {
public:
    static Result<Watch> open();

    // Descriptors to poll for readability.
    int rtnl_fd() const { return rtnl_.fd(); }
    int xfrm_fd() const { return xfrm_ ? xfrm_->fd() : -1; }

    // Every event queued now, without waiting.
    std::vector<KernelEvent> drain();

private:
    Watch(Socket rtnl, std::optional<Socket> xfrm) : rtnl_(std::move(rtnl)), xfrm_(std::move(xfrm)) {}
    Socket rtnl_;
    std::optional<Socket> xfrm_;  // absent on a kernel without XFRM netlink
};

// Parses one notification message; nullopt for types a watch ignores.
std::optional<KernelEvent> parse_event(int protocol, const nlmsghdr* h);

}  // namespace avpn::nl
