// Which conntrack entries a switch deletes (orchestrator/runtime/
// conntrack_sweep.hpp): avpn's tunnel traffic (an uplink address with a
// tunnel port as the site's end) on any path but the new active uplink's,
// masqueraded or not; never a LAN host's flow, another port, a port
// forward or another protocol. The sweep deletes exactly those, an entry
// gone meanwhile is no error, and a kernel without ctnetlink is "unavailable".
#include <doctest/doctest.h>

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include "orchestrator/runtime/conntrack_sweep.hpp"
#include "tests/unit/netlink/fake_transport.hpp"

using namespace avpn;
using namespace avpn::runtime;
using avpn::nl::CtEntry;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// orig SRC:SPORT -> DST:DPORT; the reply comes from REPLY_SRC:REPLY_SPORT
// to REPLY_DST:REPLY_DPORT (a NAT's rewrite shows there).
CtEntry ct(const char* src, uint16_t sport, const char* dst, uint16_t dport, const char* reply_src,
           uint16_t reply_sport, const char* reply_dst, uint16_t reply_dport) {
    CtEntry e;
    e.family = ip(src).family;
    e.l4proto = IPPROTO_UDP;
    e.orig = {ip(src), ip(dst), sport, dport};
    e.reply = {ip(reply_src), ip(reply_dst), reply_sport, reply_dport};
    return e;
}

// branch1: wan0 203.0.113.2, wan1 198.51.100.2, hub 192.0.2.1; the tunnels moved to wan1.
TunnelPath moved_to_wan1() {
    TunnelPath p;
    p.ports = {51820};
    p.uplink_addresses = {ip("203.0.113.2"), ip("198.51.100.2")};
    p.active = ip("198.51.100.2");
    return p;
}

const CtEntry kOnWan0 = ct("203.0.113.2", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "203.0.113.2", 51820);
const CtEntry kOnWan1 = ct("198.51.100.2", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "198.51.100.2", 51820);

}  // namespace

TEST_CASE("conntrack sweep: the tunnel's entry on the old uplink is stale, the one on the new is kept") {
    const TunnelPath p = moved_to_wan1();
    CHECK(is_tunnel_entry(kOnWan0, p));
    CHECK(is_stale_tunnel_entry(kOnWan0, p));
    CHECK(is_tunnel_entry(kOnWan1, p));
    CHECK_FALSE(is_stale_tunnel_entry(kOnWan1, p));
    // A failback: the same entries, the other way round.
    TunnelPath back = p;
    back.active = ip("203.0.113.2");
    CHECK_FALSE(is_stale_tunnel_entry(kOnWan0, back));
    CHECK(is_stale_tunnel_entry(kOnWan1, back));
}

TEST_CASE("conntrack sweep: a masquerade's mapping counts as a local end") {
    const TunnelPath p = moved_to_wan1();
    // The source kept (wan0's), masqueraded to wan1's address and another
    // port: the tuple still says wan0, so it is not the new path's entry.
    CHECK(is_stale_tunnel_entry(ct("203.0.113.2", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "198.51.100.2", 1024), p));
    // wan1's source, but mapped to wan0's address by a NAT decided earlier.
    CHECK(is_stale_tunnel_entry(ct("198.51.100.2", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "203.0.113.2", 51820), p));
    // On wan1 with its port rewritten (masquerade random): the new path's.
    CHECK_FALSE(is_stale_tunnel_entry(ct("198.51.100.2", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "198.51.100.2", 40001), p));
    // To a registry from the tunnel port: avpn's too.
    CHECK(is_stale_tunnel_entry(ct("203.0.113.2", 51820, "192.0.2.9", 9350, "192.0.2.9", 9350, "203.0.113.2", 51820), p));
}

TEST_CASE("conntrack sweep: a peer's packets to the old uplink's tunnel port are avpn's") {
    const TunnelPath p = moved_to_wan1();
    CtEntry in_wan0 = ct("192.0.2.1", 51820, "203.0.113.2", 51820, "203.0.113.2", 51820, "192.0.2.1", 51820);
    CHECK(is_stale_tunnel_entry(in_wan0, p));
    CtEntry in_wan1 = ct("192.0.2.1", 51820, "198.51.100.2", 51820, "198.51.100.2", 51820, "192.0.2.1", 51820);
    CHECK(is_tunnel_entry(in_wan1, p));
    CHECK_FALSE(is_stale_tunnel_entry(in_wan1, p));
}

TEST_CASE("conntrack sweep: what is not avpn's is never stale") {
    const TunnelPath p = moved_to_wan1();
    // A LAN host's WireGuard to some server's 51820, masqueraded on wan0.
    CHECK_FALSE(is_tunnel_entry(ct("10.1.1.5", 40000, "9.9.9.9", 51820, "9.9.9.9", 51820, "203.0.113.2", 40000), p));
    // ... even from its own port 51820.
    CHECK_FALSE(is_tunnel_entry(ct("10.1.1.5", 51820, "9.9.9.9", 51820, "9.9.9.9", 51820, "203.0.113.2", 51820), p));
    // The router's own DNS from wan0.
    CHECK_FALSE(is_tunnel_entry(ct("203.0.113.2", 53000, "9.9.9.9", 53, "9.9.9.9", 53, "203.0.113.2", 53000), p));
    // Someone's packets to wan0's 51820 forwarded to a LAN host (DNAT).
    CHECK_FALSE(is_tunnel_entry(ct("192.0.2.50", 1234, "203.0.113.2", 51820, "10.1.1.9", 51820, "192.0.2.50", 1234), p));
    // From the tunnel port of an address that is no uplink's (a LAN address).
    CHECK_FALSE(is_tunnel_entry(ct("10.1.1.1", 51820, "192.0.2.1", 51820, "192.0.2.1", 51820, "203.0.113.2", 51820), p));
    // Not UDP.
    CtEntry tcp = kOnWan0;
    tcp.l4proto = IPPROTO_TCP;
    CHECK_FALSE(is_tunnel_entry(tcp, p));
    // Another group's port is a tunnel port as well.
    CtEntry xfrm = ct("203.0.113.2", 4500, "192.0.2.1", 4500, "192.0.2.1", 4500, "203.0.113.2", 4500);
    CHECK_FALSE(is_tunnel_entry(xfrm, p));
    TunnelPath two = p;
    two.ports.insert(4500);
    CHECK(is_stale_tunnel_entry(xfrm, two));
}

TEST_CASE("conntrack sweep: IPv6 entries of an uplink's IPv6 address") {
    TunnelPath p;
    p.ports = {51820};
    p.uplink_addresses = {ip("2001:db8::2"), ip("198.51.100.2")};
    p.active = ip("198.51.100.2");
    CtEntry v6 = ct("2001:db8::2", 51820, "2001:db8:1::1", 51820, "2001:db8:1::1", 51820, "2001:db8::2", 51820);
    CHECK(is_stale_tunnel_entry(v6, p));
}

TEST_CASE("conntrack sweep: dumps each family of the uplinks, deletes the stale entries only") {
    nl::test::FakeTransport t(NETLINK_NETFILTER);
    const CtEntry foreign = ct("10.1.1.5", 40000, "9.9.9.9", 51820, "9.9.9.9", 51820, "203.0.113.2", 40000);
    CtEntry gone = ct("192.0.2.1", 51820, "203.0.113.2", 51820, "203.0.113.2", 51820, "192.0.2.1", 51820);
    gone.id = 7;
    std::vector<CtEntry> deletes;
    int dumps = 0;
    t.kernel = [&](nl::Bytes d) {
        const nlmsghdr* h = nl::test::messages(d)[0];
        if ((h->nlmsg_type & 0xff) == IPCTNL_MSG_CT_GET) {
            ++dumps;
            std::vector<std::vector<uint8_t>> msgs;
            for (const CtEntry& e : {kOnWan0, kOnWan1, foreign, gone})
                msgs.push_back(nl::test::build(0, 0, h->nlmsg_seq, [&](nl::MsgWriter& w) { nl::encode_conntrack(w, e); }));
            return nl::test::Datagrams{nl::test::concat(msgs), nl::test::done(h->nlmsg_seq)};
        }
        // A delete: the kernel says the inbound one expired meanwhile.
        nl::AttrTable<CTA_MAX + 1> a{};
        REQUIRE(nl::read_message<nfgenmsg>(h, a, "test"));
        const bool expired = a[CTA_ID].present;
        deletes.push_back(expired ? gone : kOnWan0);
        return nl::test::Datagrams{nl::test::ack(h->nlmsg_seq, expired ? ENOENT : 0)};
    };
    SweepResult r = sweep_stale_tunnel_entries(t, moved_to_wan1());
    CHECK(dumps == 1);  // both uplinks are IPv4
    CHECK(deletes == std::vector<CtEntry>{kOnWan0, gone});
    CHECK(r.deleted == 1);
    CHECK(r.deleted_entries == std::vector<std::string>{kOnWan0.str()});
    CHECK(r.errors.empty());
    CHECK_FALSE(r.unavailable);
}

TEST_CASE("conntrack sweep: a kernel without ctnetlink is unavailable, not an error") {
    nl::test::FakeTransport t(NETLINK_NETFILTER);
    // nfnetlink answers EINVAL for a subsystem it has not got.
    t.kernel = [](nl::Bytes d) { return nl::test::Datagrams{nl::test::ack(nl::test::messages(d)[0]->nlmsg_seq, EINVAL)}; };
    SweepResult r = sweep_stale_tunnel_entries(t, moved_to_wan1());
    CHECK(r.unavailable);
    CHECK(r.errors.empty());
    CHECK(r.deleted == 0);
    CHECK(conntrack_unavailable(EPROTONOSUPPORT));
    CHECK_FALSE(conntrack_unavailable(EPERM));
}
