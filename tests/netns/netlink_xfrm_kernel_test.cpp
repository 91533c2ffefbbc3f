// XFRM interfaces and ESP SAs (AEAD, NAT-T, mark, if_id) on a kernel that
// has them. This machine's kernel has neither: the binary skips (77) saying
// so, and runs in the VM tier.
#include "tests/netns/netlink_fixture.hpp"

#include <netinet/in.h>
#include <poll.h>

#include <chrono>
#include <cstdlib>

#include "netlink/xfrm.hpp"
#include "netlink/xfrm_expire.hpp"
#include "orchestrator/ownership.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

void skip_without_xfrm_kernel() {
    skip_unless("ip link add avpn-xprobe type xfrm if_id 1", "ip link del avpn-xprobe", "no XFRM interfaces in this kernel");
    skip_unless("ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 reqid 1 mode tunnel "
                "aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128",
                "ip xfrm state flush", "no ESP with AES-GCM in this kernel");
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

XfrmSa nth_sa(uint32_t i) {
    XfrmSa sa;
    sa.src = ip("192.0.2.1");
    sa.dst = IpAddr::v4(0xc6336400 + (i % 200) + 1);  // 198.51.100.x
    sa.spi = 0x41560000 + i;
    sa.reqid = own::kReqidFirst + i;
    sa.mark = {0x4156, 0xffff};
    sa.if_id = own::kIfIdFirst;
    sa.encap_sport = 4500;
    sa.encap_dport = uint16_t(4500 + i % 7);
    sa.hard_seconds = 3600;
    sa.soft_seconds = 3000;
    return sa;
}

}  // namespace

TEST_CASE("an xfrm interface is created with its if_id and underlay and reads back as the model") {
    skip_without_xfrm_kernel();
    Socket rt = open_socket(NETLINK_ROUTE);
    uint32_t underlay = veth_with_address(rt, "avpn-u0", "avpn-u0p", "192.0.2.1", 24);
    Link x;
    x.name = "avpn-x0";
    x.kind = LinkKind::xfrm;
    x.mtu = 1400;
    x.xfrm_if_id = own::kIfIdFirst;
    x.underlay = "avpn-u0";
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_create(w, x, underlay); }));
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_set_up(w, "avpn-x0", true); }));
    auto links = dump_links(rt);
    REQUIRE(links);
    auto it = std::find_if(links->begin(), links->end(), [](const LinkState& l) { return l.name == "avpn-x0"; });
    REQUIRE(it != links->end());
    CHECK(it->kind == "xfrm");
    CHECK(it->up());
    CHECK(to_model(*it, LinkIndex(*links)) == x);
    REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_link_delete(w, "avpn-x0"); }));
}

TEST_CASE("200 SAs in one batch, dumped by reqid range without keys, updated and deleted") {
    skip_without_xfrm_kernel();
    Socket xfrm = open_socket(NETLINK_XFRM);
    must("ip xfrm state add src 192.0.2.1 dst 192.0.2.9 proto esp spi 0x7 reqid 7 mode tunnel "
         "aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128");  // the operator's
    std::vector<uint8_t> key(20, 0x33);
    std::vector<XfrmSa> ours;
    Batch b(xfrm);
    for (uint32_t i = 0; i < 200; ++i) {
        ours.push_back(nth_sa(i));
        REQUIRE(b.add(i, [&](MsgWriter& w) {
            return encode_sa(w, XfrmWrite::add, ours.back(), Bytes(key.data(), key.size()));
        }));
    }
    BatchResult res = b.commit();
    if (const Error* e = res.first_error()) MESSAGE(e->str());
    REQUIRE(res.ok());
    std::sort(ours.begin(), ours.end());

    auto dumped = dump_sas(xfrm, sa_reqid_in(IdRange{own::kReqidFirst, own::kReqidLast}));
    REQUIRE(dumped);
    CHECK(*dumped == ours);

    XfrmSa changed = ours[5];
    changed.hard_seconds = 7200;
    REQUIRE(apply(xfrm, [&](MsgWriter& w) {
        return encode_sa(w, XfrmWrite::update, changed, Bytes(key.data(), key.size()));
    }));
    dumped = dump_sas(xfrm, sa_reqid_in(IdRange{own::kReqidFirst, own::kReqidLast}));
    REQUIRE(dumped);
    CHECK(std::count(dumped->begin(), dumped->end(), changed) == 1);
    Status dup = apply(xfrm, [&](MsgWriter& w) {
        return encode_sa(w, XfrmWrite::add, ours[6], Bytes(key.data(), key.size()));
    });
    REQUIRE_FALSE(dup);
    CHECK(dup.error().why.find("EEXIST") != std::string::npos);

    Batch del(xfrm);
    for (size_t i = 0; i < ours.size(); ++i)
        REQUIRE(del.add(i, [&](MsgWriter& w) { return encode_sa_delete(w, ours[i]); }));
    CHECK(del.commit().ok());
    dumped = dump_sas(xfrm, sa_reqid_in(IdRange{own::kReqidFirst, own::kReqidLast}));
    REQUIRE(dumped);
    CHECK(dumped->empty());
    auto all = dump_sas(xfrm, {});
    REQUIRE(all);
    REQUIRE(all->size() == 1);
    CHECK(all->at(0).reqid == 7u);
}

namespace {

// An outbound ESN SA from 203.0.113.1 to 203.0.113.2 and the policy and
// route that send 10.99.0.0/24 through it: packets are encrypted (counted
// by the SA) and leave on a veth nobody answers on.
XfrmSa expiring_sa() {
    XfrmSa sa;
    sa.src = ip("203.0.113.1");
    sa.dst = ip("203.0.113.2");
    sa.spi = 0x41560e01;
    sa.reqid = own::kReqidFirst + 4000;
    sa.soft_packets = 2;
    sa.hard_packets = 4;
    return sa;
}

// Expiries until a hard one or the deadline.
std::vector<XfrmExpire> wait_for_hard(ExpireWatch& watch, std::chrono::seconds limit) {
    std::vector<XfrmExpire> seen;
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        pollfd p{watch.fd(), POLLIN, 0};
        ::poll(&p, 1, 200);
        ExpireDrain d = watch.drain();
        CHECK_FALSE(d.overrun);
        for (const XfrmExpire& e : d.expired) seen.push_back(e);
        if (!seen.empty() && seen.back().hard) break;
    }
    return seen;
}

}  // namespace

TEST_CASE("an ESN SA reads back from iproute2 and from a dump as written") {
    skip_without_xfrm_kernel();
    Socket xfrm = open_socket(NETLINK_XFRM);
    XfrmSa sa = expiring_sa();
    sa.spi = 0x41560e02;
    sa.replay_window = 256;
    std::vector<uint8_t> key(20, 0x44);
    REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_sa(w, XfrmWrite::add, sa, Bytes(key.data(), key.size())); }));
    std::string shown = sh("ip -s xfrm state get src 203.0.113.1 dst 203.0.113.2 proto esp spi 0x41560e02");
    MESSAGE(shown);
    CHECK(shown.find("flag esn") != std::string::npos);
    CHECK(shown.find("replay_window 256, bitmap-length 8") != std::string::npos);
    CHECK(shown.find("soft 2(packets), hard 4(packets)") != std::string::npos);
    auto back = get_sa(xfrm, sa);
    REQUIRE(back);
    CHECK(*back == sa);
    CHECK(back->esn);
    CHECK(back->observed_key.bytes() == key);
    REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_sa_delete(w, sa); }));
}

TEST_CASE("an SA's soft packet limit sends a soft expiry, its hard limit a hard one and the SA goes") {
    skip_without_xfrm_kernel();
    auto watch = ExpireWatch::open();
    REQUIRE_MESSAGE(watch, (watch ? "" : watch.error().str()));
    Socket rt = open_socket(NETLINK_ROUTE);
    veth_with_address(rt, "avpn-e0", "avpn-e0p", "203.0.113.1", 24);
    Socket xfrm = open_socket(NETLINK_XFRM);
    const XfrmSa sa = expiring_sa();
    std::vector<uint8_t> key(20, 0x55);
    REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_sa(w, XfrmWrite::add, sa, Bytes(key.data(), key.size())); }));
    must("ip xfrm policy add src 0.0.0.0/0 dst 10.99.0.0/24 dir out tmpl src 203.0.113.1 dst 203.0.113.2 "
         "proto esp reqid " + std::to_string(sa.reqid) + " mode tunnel && ip route add 10.99.0.0/24 dev avpn-e0");
    // Packet 3 crosses the soft limit (2 counted), packet 5 the hard one.
    sh("ping -c 8 -i 0.2 -W 1 10.99.0.1");
    auto seen = wait_for_hard(*watch, std::chrono::seconds(10));
    std::string list;
    for (const XfrmExpire& e : seen) list += (e.hard ? " hard" : " soft") + std::string(" after ") + std::to_string(e.packets);
    MESSAGE("expiries:" << list);
    REQUIRE(seen.size() == 2);
    CHECK_FALSE(seen[0].hard);
    CHECK(seen[1].hard);
    for (const XfrmExpire& e : seen) {
        CHECK(e.dst == sa.dst);
        CHECK(e.spi == sa.spi);
        CHECK(e.proto == IPPROTO_ESP);
        CHECK(e.src == sa.src);
        CHECK(e.reqid == sa.reqid);
    }
    CHECK(seen[0].packets >= 2);  // counted before the packet that crossed it
    CHECK(seen[1].packets >= 4);
    CHECK_FALSE(get_sa(xfrm, sa));  // the kernel deleted it at the hard limit
    must("ip xfrm policy del src 0.0.0.0/0 dst 10.99.0.0/24 dir out && ip link del avpn-e0");
}
