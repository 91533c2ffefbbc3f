// rtnetlink policy rules in avpn's priority band. Dumps return only rules
// whose priority lies in the band, so an operator's rules elsewhere are
// never read as avpn's nor removed.
#pragma once

#include <optional>
#include <vector>

#include "common/result.hpp"
#include "netlink/message.hpp"
#include "netlink/objects.hpp"
#include "netlink/socket.hpp"

namespace avpn::nl {

enum class RuleOp : uint8_t { add, remove };

struct RuleFilter {
    uint32_t first_priority = 0;  // the band, inclusive
    uint32_t last_priority = 0;
    std::optional<Family> family;
    // Only rules carrying this FRA_PROTOCOL (0: any). A priority band alone
    // cannot tell avpn's rules from an operator's placed inside it.
    uint8_t protocol = 0;
};

// Action "lookup table". protocol (FRA_PROTOCOL) tags the rule as avpn's in
// `ip rule` output; 0 leaves it unset. fwmark without fwmask: the kernel
// matches all mark bits and dumps report fwmask 0xffffffff — write that mask
// explicitly so desired and observed rules compare equal.
Status encode_rule(MsgWriter& w, RuleOp op, const Rule& r, uint8_t protocol);
// `protocol`, when given, receives the rule's FRA_PROTOCOL (0 when unset).
Result<Rule> parse_rule(const nlmsghdr* h, uint8_t* protocol = nullptr);

// Rules in the band (both families unless one is asked), sorted.
Result<std::vector<Rule>> dump_rules(Transport& t, const RuleFilter& filter);

}  // namespace avpn::nl
