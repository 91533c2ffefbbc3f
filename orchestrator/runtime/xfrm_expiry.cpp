#include "orchestrator/runtime/xfrm_expiry.hpp"

#include "common/hex.hpp"

#include "orchestrator/ownership.hpp"
#include "orchestrator/plan/ipsec_plan.hpp"

namespace avpn::runtime {

namespace {

const nl::XfrmSa* find(const std::vector<nl::XfrmSa>& kernel, const XfrmKeying::HeldSa& h) {
    for (const nl::XfrmSa& sa : kernel)
        if (sa.if_id == h.if_id && sa.reqid == h.reqid && sa.spi == h.spi) return &sa;
    return nullptr;
}

bool at_soft_limit(const nl::XfrmSa& sa) {
    const nl::ObservedReplay& r = sa.observed_replay;
    return (sa.soft_bytes && r.bytes >= sa.soft_bytes) || (sa.soft_packets && r.packets >= sa.soft_packets);
}

}  // namespace

bool expire_is_avpns(const nl::XfrmExpire& e) {
    return own::owns_reqid(e.reqid) && planner::group_if_id(e.if_id);
}

std::vector<nl::XfrmExpire> expiries_in_dump(const std::vector<XfrmKeying::HeldSa>& held,
                                             const std::vector<nl::XfrmSa>& kernel) {
    std::vector<nl::XfrmExpire> out;
    for (const XfrmKeying::HeldSa& h : held) {
        const nl::XfrmSa* sa = find(kernel, h);
        if (sa && !at_soft_limit(*sa)) continue;
        nl::XfrmExpire e;
        e.spi = h.spi;
        e.reqid = h.reqid;
        e.if_id = h.if_id;
        e.proto = 50;  // IPPROTO_ESP
        e.hard = sa == nullptr;
        if (sa) {
            e.src = sa->src;
            e.dst = sa->dst;
            e.bytes = sa->observed_replay.bytes;
            e.packets = sa->observed_replay.packets;
        }
        out.push_back(e);
    }
    return out;
}

std::map<std::pair<std::string, std::string>, SaCounters> sa_counters(const std::vector<XfrmKeying::HeldSa>& held,
                                                                       const std::vector<nl::XfrmSa>& kernel) {
    std::map<std::pair<std::string, std::string>, SaCounters> out;
    for (const XfrmKeying::HeldSa& h : held) {
        SaCounters& c = out[{h.group, h.peer}];
        const nl::XfrmSa* sa = find(kernel, h);
        if (!sa) continue;
        (h.inbound ? c.in_bytes : c.out_bytes) += sa->observed_replay.bytes;
        (h.inbound ? c.in_packets : c.out_packets) += sa->observed_replay.packets;
    }
    return out;
}

std::string describe_sa(const nl::XfrmExpire& e) {
    return "SA " + hex32(e.spi) + " (if_id " + hex32(e.if_id) + ", reqid " + hex32(e.reqid) + ")";
}

}  // namespace avpn::runtime
