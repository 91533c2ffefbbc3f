#include "orchestrator/runtime/conntrack_sweep.hpp"

#include <linux/netlink.h>
#include <netinet/in.h>

#include <cerrno>

namespace avpn::runtime {

namespace {

bool is_uplink(const TunnelPath& p, const IpAddr& a) { return p.uplink_addresses.count(a) != 0; }
bool is_port(const TunnelPath& p, uint16_t port) { return p.ports.count(port) != 0; }

// What the site sent from its tunnel socket (the original source is ours,
// whatever a masquerade made of it).
bool sent_by_us(const nl::CtEntry& e, const TunnelPath& p) {
    return is_uplink(p, e.orig.src) && is_port(p, e.orig.sport);
}

// What a peer sent to the tunnel socket: to an uplink's address and a tunnel
// port, and answered from there. An operator's port forward of that port
// to a LAN host answers from the host: not ours.
bool received_by_us(const nl::CtEntry& e, const TunnelPath& p) {
    return is_uplink(p, e.orig.dst) && is_port(p, e.orig.dport) && e.reply.src == e.orig.dst &&
           e.reply.sport == e.orig.dport;
}

}  // namespace

bool is_tunnel_entry(const nl::CtEntry& e, const TunnelPath& p) {
    return e.l4proto == IPPROTO_UDP && (sent_by_us(e, p) || received_by_us(e, p));
}

bool is_stale_tunnel_entry(const nl::CtEntry& e, const TunnelPath& p) {
    if (!is_tunnel_entry(e, p)) return false;
    // The local ends: the original source of what we sent and the address
    // replies come back to (a masquerade's), the original destination of
    // what we received.
    if (sent_by_us(e, p) && (e.orig.src != p.active || e.reply.dst != p.active)) return true;
    return received_by_us(e, p) && e.orig.dst != p.active;
}

bool conntrack_unavailable(int code) {
    // No nfnetlink (the socket), no ctnetlink (nfnetlink answers EINVAL for
    // a subsystem it cannot load; EOPNOTSUPP for one it refuses), or no
    // conntrack in this namespace.
    return code == EPROTONOSUPPORT || code == EOPNOTSUPP || code == ENOENT || code == EINVAL;
}

SweepResult sweep_stale_tunnel_entries(nl::Transport& nfnl, const TunnelPath& p) {
    SweepResult r;
    std::set<Family> families;
    for (const IpAddr& a : p.uplink_addresses) families.insert(a.family);
    for (Family f : families) {
        auto stale = nl::dump_conntrack_udp(nfnl, f, [&](const nl::CtEntry& e) { return is_stale_tunnel_entry(e, p); });
        if (!stale) {
            if (conntrack_unavailable(stale.error().code)) r.unavailable = stale.error().str();
            else r.errors.push_back(stale.error());
            return r;
        }
        for (const nl::CtEntry& e : *stale) {
            Status st = nl::delete_conntrack(nfnl, e);
            if (st) {
                ++r.deleted;
                r.deleted_entries.push_back(e.str());
            } else if (st.error().code != ENOENT) {  // expired or deleted meanwhile: gone all the same
                r.errors.push_back(st.error());
            }
        }
    }
    return r;
}

SweepResult sweep_stale_tunnel_entries(const TunnelPath& p) {
    // Small buffers: a dump reads one datagram at a time whatever its size.
    auto s = nl::Socket::open(NETLINK_NETFILTER, {256 << 10, 64 << 10, 2000});
    if (!s) {
        SweepResult r;
        if (conntrack_unavailable(s.error().code)) r.unavailable = s.error().str();
        else r.errors.push_back(s.error());
        return r;
    }
    return sweep_stale_tunnel_entries(*s, p);
}

}  // namespace avpn::runtime
