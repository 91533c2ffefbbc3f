// Internal helpers shared by the XFRM SA and policy codecs.
#pragma once

#include <linux/xfrm.h>

#include <cstring>
#include <optional>

#include "common/ip.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"

namespace avpn::nl::xfrm_wire {

inline xfrm_address_t to_wire(const IpAddr& a) {
    xfrm_address_t x{};
    std::memcpy(&x, a.bytes.data(), a.size());
    return x;
}

inline IpAddr from_wire(const xfrm_address_t& x, Family f) {
    IpAddr a;
    a.family = f;
    std::memcpy(a.bytes.data(), &x, a.size());
    return a;
}

// 0 in the model means "no limit": XFRM_INF on the wire.
inline uint64_t limit_to_wire(uint64_t v) { return v ? v : XFRM_INF; }
inline uint64_t limit_from_wire(uint64_t v) { return v == XFRM_INF ? 0 : v; }

inline void no_limits(xfrm_lifetime_cfg& l) {
    l.soft_byte_limit = l.hard_byte_limit = XFRM_INF;
    l.soft_packet_limit = l.hard_packet_limit = XFRM_INF;
}

inline void put_mark(MsgWriter& w, const XfrmMark& m) {
    if (!m.value && !m.mask) return;
    xfrm_mark x{m.value, m.mask};
    w.put(XFRMA_MARK, &x, sizeof x);
}

inline XfrmMark get_mark(const Attr& a) {
    auto x = a.fixed<xfrm_mark>();
    return x ? XfrmMark{x->v, x->m} : XfrmMark{};
}

}  // namespace avpn::nl::xfrm_wire
