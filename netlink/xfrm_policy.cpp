// XFRM policies: selector, direction, priority, action, mark, if_id and
// ESP tunnel-mode templates.
#include <netinet/in.h>

#include <algorithm>
#include <array>

#include "netlink/transact.hpp"
#include "netlink/xfrm.hpp"
#include "netlink/xfrm_wire.hpp"

namespace avpn::nl {

using namespace xfrm_wire;

namespace {

constexpr size_t kMaxTemplates = 6;  // the kernel's XFRM_MAX_DEPTH

Status check_policy(const XfrmPolicy& p) {
    if (p.src.family() != p.dst.family())
        return Error{"encode xfrm policy", policy_name(p), "selector of two address families"};
    if (p.templates.size() > kMaxTemplates)
        return Error{"encode xfrm policy", policy_name(p), "more than 6 templates"};
    for (const auto& t : p.templates)
        if (t.src.family != t.dst.family)
            return Error{"encode xfrm policy", policy_name(p), "template outer addresses of two families"};
    return {};
}

xfrm_selector selector(const XfrmPolicy& p) {
    xfrm_selector s{};
    s.daddr = to_wire(p.dst.addr);
    s.saddr = to_wire(p.src.addr);
    s.prefixlen_d = p.dst.len;
    s.prefixlen_s = p.src.len;
    s.family = uint16_t(p.src.addr.af());
    return s;
}

xfrm_user_tmpl to_wire(const XfrmTemplate& t) {
    xfrm_user_tmpl u{};
    u.id.daddr = xfrm_wire::to_wire(t.dst);
    u.id.proto = IPPROTO_ESP;
    u.family = uint16_t(t.src.af());
    u.saddr = xfrm_wire::to_wire(t.src);
    u.reqid = t.reqid;
    u.mode = XFRM_MODE_TUNNEL;
    u.optional = t.optional ? 1 : 0;
    u.aalgos = u.ealgos = u.calgos = ~0u;  // any algorithm: the SA decides
    return u;
}

void put_templates(MsgWriter& w, const XfrmPolicy& p) {
    if (p.templates.empty()) return;
    std::array<xfrm_user_tmpl, kMaxTemplates> tmpls{};
    for (size_t i = 0; i < p.templates.size(); ++i) tmpls[i] = to_wire(p.templates[i]);
    w.put(XFRMA_TMPL, tmpls.data(), p.templates.size() * sizeof(xfrm_user_tmpl));
}

Result<std::vector<XfrmTemplate>> parse_templates(const Attr& a) {
    std::vector<XfrmTemplate> out;
    if (!a.present) return out;
    if (a.data.size() % sizeof(xfrm_user_tmpl) != 0)
        return Error{"parse xfrm policy", "XFRMA_TMPL", "length not a multiple of xfrm_user_tmpl"};
    for (size_t off = 0; off < a.data.size(); off += sizeof(xfrm_user_tmpl)) {
        xfrm_user_tmpl u;
        std::memcpy(&u, a.data.data() + off, sizeof u);
        auto f = inet_family(u.family);
        if (!f) return Error{"parse xfrm policy", "XFRMA_TMPL", "family " + std::to_string(u.family)};
        out.push_back(XfrmTemplate{from_wire(u.saddr, *f), from_wire(u.id.daddr, *f), u.reqid, u.optional != 0});
    }
    return out;
}

}  // namespace

std::string policy_name(const XfrmPolicy& p) {
    return "policy " + p.src.str() + "->" + p.dst.str() + " dir " + std::string(to_string(p.dir));
}

Status encode_policy(MsgWriter& w, XfrmWrite op, const XfrmPolicy& p) {
    if (auto st = check_policy(p); !st) return st;
    w.set_type(op == XfrmWrite::add ? XFRM_MSG_NEWPOLICY : XFRM_MSG_UPDPOLICY, 0);
    xfrm_userpolicy_info info;  // u64 lifetimes: built here, copied in (put_struct)
    std::memset(&info, 0, sizeof info);  // padding too, as put_fixed zeroed it
    info.sel = selector(p);
    no_limits(info.lft);
    info.priority = p.priority;
    info.dir = uint8_t(p.dir);
    info.action = p.action == XfrmAction::allow ? XFRM_POLICY_ALLOW : XFRM_POLICY_BLOCK;
    info.share = XFRM_SHARE_ANY;
    w.put_struct(info);
    put_templates(w, p);
    put_mark(w, p.mark);
    if (p.if_id) w.put_u32(XFRMA_IF_ID, p.if_id);
    return {};
}

Status encode_policy_delete(MsgWriter& w, const XfrmPolicy& p) {
    if (auto st = check_policy(p); !st) return st;
    w.set_type(XFRM_MSG_DELPOLICY, 0);
    if (auto* id = w.put_fixed<xfrm_userpolicy_id>()) {
        id->sel = selector(p);
        id->dir = uint8_t(p.dir);
    }
    put_mark(w, p.mark);
    if (p.if_id) w.put_u32(XFRMA_IF_ID, p.if_id);
    return {};
}

Result<XfrmPolicy> parse_policy(const nlmsghdr* h) {
    AttrTable<XFRMA_MAX + 1> t{};
    auto msg = read_message<xfrm_userpolicy_info>(h, t, "parse xfrm policy");
    if (!msg) return msg.error();
    const xfrm_userpolicy_info* info = &*msg;
    auto f = inet_family(info->sel.family);
    if (!f) return Error{"parse xfrm policy", "netlink message", "selector family " + std::to_string(info->sel.family)};
    if (info->dir > XFRM_POLICY_FWD) return Error{"parse xfrm policy", "netlink message", "direction " + std::to_string(info->dir)};
    XfrmPolicy p;
    IpAddr src = from_wire(info->sel.saddr, *f), dst = from_wire(info->sel.daddr, *f);
    if (info->sel.prefixlen_s > src.max_len() || info->sel.prefixlen_d > dst.max_len())
        return Error{"parse xfrm policy", "netlink message", "selector prefix too long"};
    p.src = Prefix::make(src, info->sel.prefixlen_s);
    p.dst = Prefix::make(dst, info->sel.prefixlen_d);
    p.dir = XfrmDir(info->dir);
    p.priority = info->priority;
    p.action = info->action == XFRM_POLICY_ALLOW ? XfrmAction::allow : XfrmAction::block;
    p.mark = get_mark(t[XFRMA_MARK]);
    p.if_id = t[XFRMA_IF_ID].u32().value_or(0);
    auto tmpls = parse_templates(t[XFRMA_TMPL]);
    if (!tmpls) return tmpls.error();
    p.templates = std::move(*tmpls);
    return p;
}

Result<std::vector<XfrmPolicy>> dump_policies(Transport& t, const std::function<bool(const XfrmPolicy&)>& keep) {
    DumpRequest req;
    req.what = "dump xfrm policies";
    req.type = XFRM_MSG_GETPOLICY;
    auto policies = collect_dump<XfrmPolicy>(t, std::move(req), [&](const nlmsghdr* h, auto& out) -> Status {
        if (h->nlmsg_type != XFRM_MSG_NEWPOLICY) return {};
        // Per-socket policies (dir >= XFRM_POLICY_MAX) are never avpn's.
        auto info = fixed_header<xfrm_userpolicy_info>(h);
        if (info && info->dir > XFRM_POLICY_FWD) return {};
        auto p = parse_policy(h);
        if (!p) return p.error();
        if (!keep || keep(*p)) out.push_back(std::move(*p));
        return {};
    });
    if (policies) sort_dumped(*policies);
    return policies;
}

std::function<bool(const XfrmPolicy&)> policy_owned(IdRange reqids, IdRange if_ids) {
    return [reqids, if_ids](const XfrmPolicy& p) {
        // A policy with templates is avpn's only by their reqid: charon's
        // policies for an interop tunnel carry avpn's if_id too (the XFRM
        // interface is avpn's), but their SAs and policies are charon's.
        if (p.templates.empty()) return if_ids.contains(p.if_id);
        return std::any_of(p.templates.begin(), p.templates.end(),
                           [&](const XfrmTemplate& t) { return reqids.contains(t.reqid); });
    };
}

}  // namespace avpn::nl
