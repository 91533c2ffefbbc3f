// The kernel's SA expiry notifications (XFRMNLGRP_EXPIRE, XFRM_MSG_EXPIRE),
// typed. At an SA's soft byte/packet/time limit the kernel sends one with
// hard = false and keeps the SA (a keying daemon rekeys then); at the hard
// limit it deletes the SA and sends hard = true. No policy here: avpnd's
// rekeying decides what an expiry means.
#pragma once

#include <cstdint>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

struct XfrmExpire {
    // The SA's id, as XFRM_MSG_GETSA/DELSA name it.
    IpAddr dst;
    uint32_t spi = 0;
    uint8_t proto = 0;  // IPPROTO_ESP for avpn's SAs
    bool hard = false;  // the SA is gone; soft: it still works, replace it
    // To tell avpn's SAs from others' and to log.
    IpAddr src;
    uint32_t reqid = 0;
    XfrmMark mark;
    uint32_t if_id = 0;
    uint64_t bytes = 0, packets = 0;  // used when it expired
    auto operator<=>(const XfrmExpire&) const = default;
};

// One XFRM_MSG_EXPIRE message; an error for any other message or a
// malformed one.
Result<XfrmExpire> parse_expire(const nlmsghdr* h);
// The message the kernel sends (xfrm_user's build_expire), for tests and
// fuzz seeds: the kernel is its only real author.
Status encode_expire(MsgWriter& w, const XfrmExpire& e);

struct ExpireDrain {
    std::vector<XfrmExpire> expired;  // in arrival order
    // The kernel dropped notifications (ENOBUFS): some expiries are lost,
    // the listener must read the SAs again to find them.
    bool overrun = false;
};

// A NETLINK_XFRM socket joined to XFRMNLGRP_EXPIRE only.
class ExpireWatch {
public:
    static Result<ExpireWatch> open();
    int fd() const { return sock_.fd(); }  // poll for readability
    // Every notification queued now, without waiting.
    ExpireDrain drain();

private:
    explicit ExpireWatch(Socket s) : sock_(std::move(s)) {}
    Socket sock_;
};

}  // namespace avpn::nl
