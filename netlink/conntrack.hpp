// Connection tracking entries over ctnetlink (NFNL_SUBSYS_CTNETLINK on a
// NETLINK_NETFILTER socket): list one address family's UDP entries, delete
// one entry by its original tuple. No policy here: which entries are avpn's
// is the caller's predicate (orchestrator/runtime/conntrack_sweep.hpp).
//
// The kernel filters the dump by family and L4 protocol (CTA_FILTER, since
// 2020; Debian 12's 6.1 has it); an older kernel ignores the filter and
// sends every entry, so both are checked again here.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.hpp"
#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

// One direction of an entry: addresses and ports as the packets of that
// direction carry them (the reply tuple shows a NAT's rewrite).
struct CtTuple {
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;  // host order
    auto operator<=>(const CtTuple&) const = default;
    std::string str() const;  // "203.0.113.2:51820 -> 192.0.2.1:51820"
};

struct CtEntry {
    Family family = Family::v4;
    uint8_t l4proto = 0;  // IPPROTO_UDP for every entry a UDP dump returns
    CtTuple orig, reply;
    uint32_t mark = 0;
    uint16_t zone = 0;
    // The kernel's id of this entry (CTA_ID). A delete that carries it
    // removes this entry only, never a new one made since with the same tuple.
    std::optional<uint32_t> id;
    auto operator<=>(const CtEntry&) const = default;
    std::string str() const;  // orig, then "reply ...", zone and mark when set
};

// The dump's entries that `keep` accepts (all when it is empty), in the
// kernel's order. keep sees each entry once, so a large table is never
// held whole in memory.
Result<std::vector<CtEntry>> dump_conntrack_udp(Transport& nfnl, Family family,
                                                const std::function<bool(const CtEntry&)>& keep = {});

// Deletes the entry with e's original tuple and zone (and id, when known).
// An entry that is gone already fails with code ENOENT.
Status delete_conntrack(Transport& nfnl, const CtEntry& e);

// One IPCTNL_MSG_CT_NEW message of a dump; an error for a malformed one or
// one without an original or reply tuple.
Result<CtEntry> parse_conntrack(const nlmsghdr* h);
// An entry as the kernel reports it (type, nfgenmsg, both tuples, mark,
// zone, id): for tests and fuzz seeds, the kernel being its real author.
void encode_conntrack(MsgWriter& w, const CtEntry& e);

}  // namespace avpn::nl
