#include "orchestrator/reconcile/ops.hpp"

#include <cstdio>

namespace avpn {

Op Op::inverse() const {
    switch (kind) {
        case OpKind::create: return Op{OpKind::remove, object, std::nullopt};
        case OpKind::remove: return Op{OpKind::create, object, std::nullopt};
        case OpKind::update: return Op{OpKind::update, *previous, object};
    }
    return *this;
}

std::string_view object_kind_name(size_t phase) {
    static constexpr std::string_view names[kObjectKinds] = {
        "link", "address", "wireguard", "xfrm_state", "xfrm_policy", "route", "rule"};
    return phase < kObjectKinds ? names[phase] : "?";
}

std::string_view to_string(OpKind k) {
    switch (k) {
        case OpKind::create: return "create";
        case OpKind::update: return "update";
        case OpKind::remove: return "delete";
    }
    return "?";
}

namespace {

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

struct Describe {
    std::string operator()(const nl::Link& l) const {
        return l.name + " type " + std::string(nl::to_string(l.kind)) +
               (l.kind == nl::LinkKind::xfrm ? " if_id " + hex(l.xfrm_if_id) : "") +
               (l.wg_impl != nl::WgImpl::any ? " backend " + std::string(nl::to_string(l.wg_impl)) : "") +
               (l.mtu ? " mtu " + std::to_string(l.mtu) : "") + (l.up ? "" : " down");
    }
    std::string operator()(const nl::InterfaceAddress& a) const {
        return a.address.str() + "/" + std::to_string(a.prefix_len) + " dev " + a.ifname;
    }
    std::string operator()(const nl::WgDevice& d) const {
        return d.ifname + " listen-port " + std::to_string(d.listen_port) + " peers " +
               std::to_string(d.peers.size());
    }
    std::string operator()(const nl::XfrmSa& s) const {
        return "src " + s.src.str() + " dst " + s.dst.str() + " spi " + hex(s.spi) + " reqid " + hex(s.reqid);
    }
    std::string operator()(const nl::XfrmPolicy& p) const {
        return "src " + p.src.str() + " dst " + p.dst.str() + " dir " + std::string(nl::to_string(p.dir)) +
               " if_id " + hex(p.if_id);
    }
    std::string operator()(const nl::Route& r) const {
        return r.dst.str() + " dev " + r.ifname + " table " + std::to_string(r.table) +
               (r.gateway ? " via " + r.gateway->str() : "");
    }
    std::string operator()(const nl::Rule& r) const {
        std::string s = "priority " + std::to_string(r.priority);
        if (r.src) s += " from " + r.src->str();
        if (r.dst) s += " to " + r.dst->str();
        if (r.fwmask) s += std::string(r.invert ? " not" : "") + " fwmark " + hex(r.fwmark);
        s += " lookup " + std::to_string(r.table);
        if (r.suppress_prefixlen >= 0) s += " suppress_prefixlength " + std::to_string(r.suppress_prefixlen);
        return s;
    }
};

}  // namespace

std::string describe(const KernelObject& o) { return std::visit(Describe{}, o); }

size_t OpCounts::total() const {
    size_t n = 0;
    for (size_t i = 0; i < kObjectKinds; ++i) n += created[i] + updated[i] + removed[i];
    return n;
}

OpCounts count(const std::vector<Op>& ops) {
    OpCounts c;
    for (const Op& op : ops) {
        size_t p = op.phase();
        switch (op.kind) {
            case OpKind::create: ++c.created[p]; break;
            case OpKind::update: ++c.updated[p]; break;
            case OpKind::remove: ++c.removed[p]; break;
        }
    }
    return c;
}

}  // namespace avpn
