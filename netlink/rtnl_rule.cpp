#include "netlink/rtnl_rule.hpp"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

#include "netlink/transact.hpp"

namespace avpn::nl {

namespace {

std::string rule_name(const Rule& r) { return "priority " + std::to_string(r.priority); }

Status check_selector(const Rule& r, const std::optional<Prefix>& p, const char* which) {
    if (p && p->family() != r.family)
        return Error{"encode rule", rule_name(r), std::string(which) + " of the other address family"};
    return {};
}

std::optional<Prefix> parse_selector(const Attr& a, Family f, uint8_t len) {
    auto addr = a.addr(f);
    if (!addr) return std::nullopt;
    return Prefix::make(*addr, std::min<uint8_t>(len, uint8_t(addr->max_len())));
}

}  // namespace

Status encode_rule(MsgWriter& w, RuleOp op, const Rule& r, uint8_t protocol) {
    if (auto st = check_selector(r, r.src, "source"); !st) return st;
    if (auto st = check_selector(r, r.dst, "destination"); !st) return st;
    w.set_type(op == RuleOp::add ? RTM_NEWRULE : RTM_DELRULE, op == RuleOp::add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    if (auto* frh = w.put_fixed<fib_rule_hdr>()) {
        frh->family = uint8_t(r.family == Family::v4 ? AF_INET : AF_INET6);
        frh->table = r.table < 256 ? uint8_t(r.table) : uint8_t(RT_TABLE_UNSPEC);
        frh->action = FR_ACT_TO_TBL;
        frh->flags = r.invert ? FIB_RULE_INVERT : 0;
        frh->src_len = r.src ? r.src->len : 0;
        frh->dst_len = r.dst ? r.dst->len : 0;
    }
    w.put_u32(FRA_PRIORITY, r.priority);
    w.put_u32(FRA_TABLE, r.table);
    if (r.src) w.put_addr(FRA_SRC, r.src->addr);
    if (r.dst) w.put_addr(FRA_DST, r.dst->addr);
    if (r.fwmark || r.fwmask) w.put_u32(FRA_FWMARK, r.fwmark);
    if (r.fwmask) w.put_u32(FRA_FWMASK, r.fwmask);
    if (r.suppress_prefixlen >= 0) w.put_u32(FRA_SUPPRESS_PREFIXLEN, uint32_t(r.suppress_prefixlen));
    if (protocol && op == RuleOp::add) w.put_u8(FRA_PROTOCOL, protocol);
    return {};
}

Result<Rule> parse_rule(const nlmsghdr* h, uint8_t* protocol) {
    AttrTable<FRA_MAX + 1> t{};
    auto msg = read_message<fib_rule_hdr>(h, t, "parse rule");
    if (!msg) return msg.error();
    const fib_rule_hdr* frh = &*msg;
    auto fam = inet_family(frh->family);
    if (!fam) return Error{"parse rule", "netlink message", "family " + std::to_string(frh->family)};
    Rule r;
    r.family = *fam;
    r.priority = t[FRA_PRIORITY].u32().value_or(0);
    r.table = t[FRA_TABLE].u32().value_or(frh->table);
    r.src = parse_selector(t[FRA_SRC], r.family, frh->src_len);
    r.dst = parse_selector(t[FRA_DST], r.family, frh->dst_len);
    r.fwmark = t[FRA_FWMARK].u32().value_or(0);
    r.fwmask = t[FRA_FWMASK].u32().value_or(0);
    r.invert = frh->flags & FIB_RULE_INVERT;
    // The kernel reports suppress_prefixlen only when set (its "unset" is -1).
    if (auto s = t[FRA_SUPPRESS_PREFIXLEN].u32()) r.suppress_prefixlen = int(int32_t(*s));
    if (protocol) *protocol = t[FRA_PROTOCOL].u8().value_or(0);
    return r;
}

Result<std::vector<Rule>> dump_rules(Transport& t, const RuleFilter& filter) {
    DumpRequest req;
    req.what = "dump rules";
    req.where = "priorities " + std::to_string(filter.first_priority) + "-" + std::to_string(filter.last_priority);
    req.type = RTM_GETRULE;
    // The kernel cannot filter rule dumps (strict checking refuses any
    // filter but the family): the band is applied here.
    req.fill = [&](MsgWriter& w) {
        if (auto* frh = w.put_fixed<fib_rule_hdr>())
            frh->family = filter.family ? uint8_t(filter.family == Family::v4 ? AF_INET : AF_INET6) : AF_UNSPEC;
    };
    auto rules = collect_dump<Rule>(t, std::move(req), [&](const nlmsghdr* h, auto& out) -> Status {
        // An unfiltered dump also lists multicast-routing rules (RTNL_FAMILY_IPMR...).
        auto frh = fixed_header<fib_rule_hdr>(h);
        if (frh && !inet_family(frh->family)) return {};
        uint8_t protocol = 0;
        auto r = parse_rule(h, &protocol);
        if (!r) return r.error();
        if (r->priority < filter.first_priority || r->priority > filter.last_priority) return {};
        if (filter.protocol && protocol != filter.protocol) return {};
        if (filter.family && r->family != *filter.family) return {};
        out.push_back(std::move(*r));
        return {};
    });
    if (rules) sort_dumped(*rules);
    return rules;
}

}  // namespace avpn::nl
