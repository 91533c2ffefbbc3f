// XFRM interfaces and ESP SAs (AEAD, NAT-T, mark, if_id) on a kernel that
// has them. This machine's kernel has neither: the binary skips (77) saying
// so, and runs in the VM tier.
#include "tests/netns/netlink_fixture.hpp"

#include <cstdlib>

#include "netlink/xfrm.hpp"
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
