// The kernel objects avpn owns, and the markers that say so. avpn reads,
// changes and deletes only objects carrying these markers; an operator's own
// routes, rules, SAs, policies and interfaces are never touched.
#pragma once

#include <cstddef>
#include <cstdint>

namespace avpn::own {

// rtm_protocol of every route avpn installs (packaging ships
// /etc/iproute2/rt_protos.d/avpn.conf so `ip route` shows "proto avpn").
inline constexpr uint8_t kRouteProtocol = 147;

// Policy rules live in this priority band and carry kRouteProtocol as their
// FRA_PROTOCOL: an operator's rule inside the band is not avpn's. Each group
// takes a slot of kRuleSlot priorities between kRulePriorityFirst and
// kRulePriorityLast (split tunnel: two rules; full tunnel: three); the
// site's uplink steering (docs/uplinks.md) follows them, up to kRuleBandLast.
inline constexpr uint32_t kRulePriorityFirst = 7000;
inline constexpr uint32_t kRulePriorityLast = 7099;
inline constexpr uint32_t kRuleSlot = 10;
inline constexpr uint32_t kUplinkRulePriority = 7100;  // and the next two
inline constexpr uint32_t kRuleBandLast = 7109;

// Uplink steering: the n-th uplink's own table (a copy of its default
// routes) is kUplinkTableBase + n, and that number is also the fwmark of the
// WireGuard devices while the uplink carries the tunnels.
inline constexpr uint32_t kUplinkTableBase = 7200;

// Active-active (docs/uplinks.md): path i (0..kMaxPaths-1) of the n-th group
// has table and mark kPathTableBase + 4n + i. The mark goes on a flow's
// packets (conntrack keeps it); table i >= 1 holds the group's routes through
// path i's device, and rule P+1 of the group's slot sends the mark there.
inline constexpr uint32_t kPathTableBase = 7300;
inline constexpr uint32_t kPathsPerGroup = 4;
inline constexpr uint32_t path_table(size_t group_index, size_t path) {
    return kPathTableBase + kPathsPerGroup * uint32_t(group_index) + uint32_t(path);
}

// Default routing table of the n-th group (0-based) when the config names none.
inline constexpr uint32_t kTableBase = 7100;

// XFRM: every SA and policy avpn installs has a reqid in this range and an
// if_id equal to its group's (or interop tunnel's, or active-active path's)
// XFRM interface id, which is also allocated from this range: groups from
// kIfIdFirst up, interop tunnels from kIfIdFirst + 128 (ipsec_plan.hpp),
// paths from kPathIfIdFirst.
inline constexpr uint32_t kReqidFirst = 0x41560000;  // "AV\0\0"
inline constexpr uint32_t kReqidLast = 0x4156ffff;
inline constexpr uint32_t kIfIdFirst = 0x41560001;
inline constexpr uint32_t kPathIfIdFirst = 0x41560100;
inline constexpr uint32_t kIfIdLast = 0x415601ff;
// Path i >= 1 of the n-th XFRM group (n < 64) has its own XFRM interface.
inline constexpr uint32_t path_if_id(size_t group_index, size_t path) {
    return kPathIfIdFirst + kPathsPerGroup * uint32_t(group_index) + uint32_t(path);
}

// Priorities of avpn's XFRM policies: allow above the group's default drop,
// so a non-atomic SA swap never leaks plaintext. An allow policy's priority is
// kPolicyPriority + (address bits - prefix length) of its peer-side selector
// (1000-1128): the kernel does no longest-prefix match among policies.
inline constexpr uint32_t kPolicyPriority = 1000;
inline constexpr uint32_t kPolicyDropPriority = 2000;

// The interface alias (IFLA_IFALIAS, `ip link set X alias avpn`) avpn writes
// on every interface it creates, as it raises it. A link without it is not
// avpn's, whatever its name and kind: never adopted, changed or deleted.
inline constexpr const char* kLinkAlias = "avpn";

// Default name prefix of avpn's interfaces.
inline constexpr const char* kInterfacePrefix = "avpn-";

inline bool owns_rule_priority(uint32_t p) { return p >= kRulePriorityFirst && p <= kRuleBandLast; }
inline bool owns_reqid(uint32_t r) { return r >= kReqidFirst && r <= kReqidLast; }
inline bool owns_if_id(uint32_t i) { return i >= kIfIdFirst && i <= kIfIdLast; }

}  // namespace avpn::own
