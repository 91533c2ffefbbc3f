// Fuzzes the netlink dump parsers: what the kernel (or another process on a
// netlink socket) writes back. The first byte picks the parser, the rest is
// one received datagram. The datagram is copied to an address that is 4 mod
// 8, as messages after the first in a real reply are: netlink only promises
// 4-byte alignment, so reading a u64 field in place is caught by UBSan here.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "netlink/message.hpp"
#include "netlink/rtnl_addr.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/rtnl_rule.hpp"
#include "netlink/watch.hpp"
#include "netlink/wireguard.hpp"
#include "netlink/xfrm.hpp"
#include "netlink/xfrm_expire.hpp"

using namespace avpn::nl;

namespace {

enum Parser : uint8_t { link, address, route, rule, xfrm_sa, xfrm_policy, wireguard, reply, kCount };

void parse_one(Parser p, const nlmsghdr* h, WgDeviceState& wg) {
    switch (p) {
        case link: (void)parse_link(h); break;
        case address: (void)parse_address(h); break;
        case route: (void)parse_route(h); break;
        case rule: (void)parse_rule(h); break;
        case xfrm_sa:
            (void)parse_sa(h);
            (void)parse_expire(h);
            break;
        case xfrm_policy: (void)parse_policy(h); break;
        case wireguard: (void)merge_device_message(h, wg); break;
        case reply:
            (void)parse_error_message(h);
            (void)parse_done_message(h);
            (void)parse_event(NETLINK_ROUTE, h);
            break;
        case kCount: break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const auto parser = Parser(data[0] % kCount);
    const size_t len = size - 1;
    // 8-aligned storage, datagram at +4.
    std::unique_ptr<uint64_t[]> store(new uint64_t[len / 8 + 2]);
    auto* buf = reinterpret_cast<uint8_t*>(store.get()) + 4;
    std::memcpy(buf, data + 1, len);
    MsgReader r(Bytes(buf, len));
    WgDeviceState wg;
    const nlmsghdr* h;
    while (r.next(h)) parse_one(parser, h, wg);
    return 0;
}
