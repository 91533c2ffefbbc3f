#include "netlink/conntrack.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include "netlink/transact.hpp"

namespace avpn::nl {

namespace {

constexpr uint16_t msg_type(uint8_t ctnl_type) { return uint16_t(NFNL_SUBSYS_CTNETLINK << 8 | ctnl_type); }

// CTA_FILTER_ORIG_FLAGS' bit for "match the L4 protocol number". The flag
// values live in the kernel's net/netfilter/nf_internals.h, not in the uapi
// headers, but they are the ABI all the same (conntrack-tools sends them).
constexpr uint32_t kFilterProtoNum = 1u << 3;

const char* family_name(Family f) { return f == Family::v4 ? "ipv4" : "ipv6"; }

void put_header(MsgWriter& w, Family f) {
    if (auto* g = w.put_fixed<nfgenmsg>()) {
        g->nfgen_family = uint8_t(f == Family::v4 ? AF_INET : AF_INET6);
        g->version = NFNETLINK_V0;
        g->res_id = 0;
    }
}

// ctnetlink's integers are in network byte order (CTA_FILTER's flags excepted).
void put_tuple(MsgWriter& w, uint16_t type, const CtTuple& t, Family f, uint8_t proto) {
    auto tuple = w.begin_nest(type);
    if (!tuple) return;
    if (auto ip = w.begin_nest(CTA_TUPLE_IP)) {
        w.put_addr(f == Family::v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, t.src);
        w.put_addr(f == Family::v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, t.dst);
        w.end_nest(*ip);
    }
    if (auto p = w.begin_nest(CTA_TUPLE_PROTO)) {
        w.put_u8(CTA_PROTO_NUM, proto);
        w.put_u16(CTA_PROTO_SRC_PORT, htons(t.sport));
        w.put_u16(CTA_PROTO_DST_PORT, htons(t.dport));
        w.end_nest(*p);
    }
    w.end_nest(*tuple);
}

// A tuple of family f; the ports stay 0 for protocols without them (ICMP).
std::optional<CtTuple> parse_tuple(const Attr& a, Family f, uint8_t& proto) {
    AttrTable<CTA_TUPLE_MAX + 1> t{};
    AttrTable<CTA_IP_MAX + 1> ip{};
    AttrTable<CTA_PROTO_MAX + 1> pr{};
    if (!a.present || !parse_attrs(a.data, t) || !t[CTA_TUPLE_IP].present || !t[CTA_TUPLE_PROTO].present ||
        !parse_attrs(t[CTA_TUPLE_IP].data, ip) || !parse_attrs(t[CTA_TUPLE_PROTO].data, pr))
        return std::nullopt;
    auto src = ip[f == Family::v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC].addr(f);
    auto dst = ip[f == Family::v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST].addr(f);
    auto num = pr[CTA_PROTO_NUM].u8();
    if (!src || !dst || !num) return std::nullopt;
    proto = *num;
    CtTuple out{*src, *dst, 0, 0};
    if (auto p = pr[CTA_PROTO_SRC_PORT].u16()) out.sport = ntohs(*p);
    if (auto p = pr[CTA_PROTO_DST_PORT].u16()) out.dport = ntohs(*p);
    return out;
}

}  // namespace

std::string CtTuple::str() const { return Endpoint{src, sport}.str() + " -> " + Endpoint{dst, dport}.str(); }

std::string CtEntry::str() const {
    std::string s = (l4proto == IPPROTO_UDP ? std::string("udp ") : "proto " + std::to_string(l4proto) + " ") +
                    orig.str() + " reply " + reply.str();
    if (zone) s += " zone " + std::to_string(zone);
    if (mark) s += " mark " + std::to_string(mark);
    return s;
}

Result<CtEntry> parse_conntrack(const nlmsghdr* h) {
    const char* what = "parse conntrack entry";
    if (h->nlmsg_type != msg_type(IPCTNL_MSG_CT_NEW))
        return Error{what, "netlink message", "type " + std::to_string(h->nlmsg_type) + " is no conntrack entry"};
    AttrTable<CTA_MAX + 1> t{};
    auto g = read_message<nfgenmsg>(h, t, what);
    if (!g) return g.error();
    auto family = inet_family(g->nfgen_family);
    if (!family) return Error{what, "netlink message", "family " + std::to_string(g->nfgen_family) + " is not IP"};
    CtEntry e;
    e.family = *family;
    uint8_t reply_proto = 0;
    auto orig = parse_tuple(t[CTA_TUPLE_ORIG], e.family, e.l4proto);
    auto reply = parse_tuple(t[CTA_TUPLE_REPLY], e.family, reply_proto);
    if (!orig || !reply) return Error{what, "netlink message", "no complete original and reply tuple"};
    e.orig = *orig;
    e.reply = *reply;
    if (auto m = t[CTA_MARK].u32()) e.mark = ntohl(*m);
    if (auto z = t[CTA_ZONE].u16()) e.zone = ntohs(*z);
    if (auto id = t[CTA_ID].u32()) e.id = ntohl(*id);
    return e;
}

void encode_conntrack(MsgWriter& w, const CtEntry& e) {
    w.set_type(msg_type(IPCTNL_MSG_CT_NEW), NLM_F_MULTI);
    put_header(w, e.family);
    put_tuple(w, CTA_TUPLE_ORIG, e.orig, e.family, e.l4proto);
    put_tuple(w, CTA_TUPLE_REPLY, e.reply, e.family, e.l4proto);
    w.put_u32(CTA_MARK, htonl(e.mark));
    if (e.zone) w.put_u16(CTA_ZONE, htons(e.zone));
    if (e.id) w.put_u32(CTA_ID, htonl(*e.id));
}

Result<std::vector<CtEntry>> dump_conntrack_udp(Transport& nfnl, Family family,
                                                const std::function<bool(const CtEntry&)>& keep) {
    DumpRequest req;
    req.what = "dump conntrack";
    req.where = std::string("udp ") + family_name(family);
    req.type = msg_type(IPCTNL_MSG_CT_GET);
    req.fill = [family](MsgWriter& w) {
        put_header(w, family);  // the kernel filters by nfgen_family
        if (auto orig = w.begin_nest(CTA_TUPLE_ORIG)) {
            if (auto p = w.begin_nest(CTA_TUPLE_PROTO)) {
                w.put_u8(CTA_PROTO_NUM, IPPROTO_UDP);
                w.end_nest(*p);
            }
            w.end_nest(*orig);
        }
        if (auto f = w.begin_nest(CTA_FILTER)) {
            w.put_u32(CTA_FILTER_ORIG_FLAGS, kFilterProtoNum);
            w.end_nest(*f);
        }
    };
    return collect_dump<CtEntry>(nfnl, std::move(req), [&](const nlmsghdr* h, std::vector<CtEntry>& out) -> Status {
        if (h->nlmsg_type != msg_type(IPCTNL_MSG_CT_NEW)) return {};
        auto e = parse_conntrack(h);
        if (!e) return e.error();
        // Again here: a kernel before CTA_FILTER sends every entry.
        if (e->family != family || e->l4proto != IPPROTO_UDP) return {};
        if (!keep || keep(*e)) out.push_back(std::move(*e));
        return {};
    });
}

Status delete_conntrack(Transport& nfnl, const CtEntry& e) {
    return run_query(
        nfnl, "delete conntrack entry", e.str(), msg_type(IPCTNL_MSG_CT_DELETE), 0,
        [&](MsgWriter& w) {
            put_header(w, e.family);
            put_tuple(w, CTA_TUPLE_ORIG, e.orig, e.family, e.l4proto);
            if (e.zone) w.put_u16(CTA_ZONE, htons(e.zone));
            if (e.id) w.put_u32(CTA_ID, htonl(*e.id));
        },
        {});
}

}  // namespace avpn::nl
