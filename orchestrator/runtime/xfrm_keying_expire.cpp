// XfrmKeying's part in the kernel's SA expiries (xfrm_keying.hpp; the site
// reads them, site_expire.cpp). Apart from xfrm_keying.cpp so the two grow
// independently.
#include "common/hex.hpp"

#include "orchestrator/runtime/xfrm_keying.hpp"

namespace avpn::runtime {

using namespace keying;

namespace {

bool holds(const PeerSas& sas, uint32_t spi, bool& inbound) {
    for (const SaHalf& in : sas.inbound)
        if (in.spi == spi) return inbound = true;
    inbound = false;
    return sas.outbound && sas.outbound->spi == spi;
}

}  // namespace

std::vector<XfrmKeying::HeldSa> XfrmKeying::held_sas() const {
    std::vector<HeldSa> out;
    for (const Group& g : groups_)
        for (const Peer& p : g.peers) {
            for (const SaHalf& in : p.session.sas().inbound)
                out.push_back({g.name, p.view.name, g.if_id, p.view.reqid, in.spi, true});
            if (const auto& o = p.session.sas().outbound)
                out.push_back({g.name, p.view.name, g.if_id, p.view.reqid, o->spi, false});
        }
    return out;
}

std::optional<XfrmKeying::Work> XfrmKeying::expire(const nl::XfrmExpire& e, Time now) {
    for (Group& g : groups_) {
        if (g.if_id != e.if_id) continue;
        for (Peer& p : g.peers) {
            bool inbound = false;
            if (p.view.reqid != e.reqid || !holds(p.session.sas(), e.spi, inbound)) continue;
            Work out;
            const auto actions = p.session.on_expire(e.spi, e.hard, now);
            std::string line = who(g, p.view.name) + ": " + (e.hard ? "hard" : "soft") + " expire of SA " +
                               hex32(e.spi) + (inbound ? " (in, " : " (out, ") + std::to_string(e.bytes) + " bytes, " +
                               std::to_string(e.packets) + " packets): ";
            if (e.hard)
                line += std::string("the kernel deleted it; the session that used it is dropped") +
                        (p.session.initiating() ? ", handshaking anew" : "");
            else if (p.session.initiating())
                line += "rekeying";
            else if (p.session.rekey_requested())
                line += "rekey due, once the SA before it has gone";
            else
                line += "not the current session's SA; nothing to do";
            out.events.push_back(std::move(line));
            carry_out(g, p, actions, now, std::nullopt, out);
            return out;
        }
    }
    return std::nullopt;
}

// The sessions whose key the port was refused for a second SA (key()):
// their SA went without this avpnd seeing its expiry, so they end as a hard
// expiry ends them, and the peer handshakes anew.
XfrmKeying::Work XfrmKeying::drop_reused(Time now) {
    Work out;
    std::set<uint64_t> reused;
    reused.swap(reused_);
    for (uint64_t id : reused)
        for (Group& g : groups_)
            for (Peer& p : g.peers) {
                const PeerSas& sas = p.session.sas();
                std::optional<uint32_t> spi;
                for (const SaHalf& in : sas.inbound)
                    if (in.key_id == id) spi = in.spi;
                if (sas.outbound && sas.outbound->key_id == id) spi = sas.outbound->spi;
                if (!spi) continue;
                out.events.push_back(who(g, p.view.name) + ": SA " + hex32(*spi) +
                                     " is gone and its key may not go into another: the session is dropped");
                carry_out(g, p, p.session.on_expire(*spi, true, now), now, std::nullopt, out);
            }
    return out;
}

XfrmKeying::Work XfrmKeying::rotate_all(Time now) {
    for (Group& g : groups_)
        for (Peer& p : g.peers) p.session.rekey_now();
    return tick(now);
}

}  // namespace avpn::runtime
