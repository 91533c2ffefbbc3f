// Policy rules in avpn's priority band and XFRM policies/SAs against this
// machine's kernel. An operator's rule outside the band and an operator's
// XFRM policy (reqid and if_id outside avpn's ranges) must survive.
#include "tests/netns/netlink_fixture.hpp"

#include "netlink/rtnl_rule.hpp"
#include "netlink/xfrm.hpp"
#include "orchestrator/ownership.hpp"

using namespace avpn;
using namespace avpn::nl;
using namespace avpn::nl::netns;

namespace {

const RuleFilter kBand{own::kRulePriorityFirst, own::kRulePriorityLast, {}};
const IdRange kReqids{own::kReqidFirst, own::kReqidLast};
const IdRange kIfIds{own::kIfIdFirst, own::kIfIdLast};

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

std::vector<Rule> band_rules() {
    Rule split;
    split.priority = 7000;
    split.table = 7100;
    split.dst = pfx("10.0.0.0/8");
    Rule full;
    full.priority = 7010;
    full.table = 7101;
    full.fwmark = 0x4156;
    full.fwmask = 0xffff;
    full.invert = true;
    Rule suppress;
    suppress.priority = 7011;
    suppress.table = 254;
    suppress.suppress_prefixlen = 0;
    Rule v6;
    v6.priority = 7020;
    v6.family = Family::v6;
    v6.table = 7100;
    v6.src = pfx("fd00:4156::/48");
    std::vector<Rule> out{split, full, suppress, v6};
    std::sort(out.begin(), out.end());
    return out;
}

XfrmPolicy policy(const char* src, const char* dst, XfrmDir dir, uint32_t reqid) {
    XfrmPolicy p;
    p.src = pfx(src);
    p.dst = pfx(dst);
    p.dir = dir;
    p.priority = own::kPolicyPriority;
    p.mark = {0x4156, 0xffff};
    p.if_id = own::kIfIdFirst;
    XfrmTemplate t;
    t.src = dir == XfrmDir::out ? ip("192.0.2.1") : ip("198.51.100.7");
    t.dst = dir == XfrmDir::out ? ip("198.51.100.7") : ip("192.0.2.1");
    t.reqid = reqid;
    p.templates.push_back(t);
    return p;
}

}  // namespace

TEST_CASE("rules: add, dump and delete in the band; the operator's rule stays") {
    Socket rt = open_socket(NETLINK_ROUTE);
    must("ip rule add pref 100 from 10.5.0.0/16 lookup 7100");  // operator's, outside the band
    std::vector<Rule> ours = band_rules();
    for (const auto& r : ours) REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_rule(w, RuleOp::add, r, own::kRouteProtocol); }));

    auto dumped = dump_rules(rt, kBand);
    REQUIRE(dumped);
    CHECK(*dumped == ours);
    CHECK(sh("ip rule show pref 7000").find("proto 147") != std::string::npos);

    auto v4 = dump_rules(rt, RuleFilter{kBand.first_priority, kBand.last_priority, Family::v4});
    REQUIRE(v4);
    CHECK(v4->size() == 3);

    // An operator's rule inside the band, without avpn's protocol: the band
    // alone lists it, the protocol filter does not.
    must("ip rule add pref 7055 iif lo lookup 200");
    auto all_in_band = dump_rules(rt, kBand);
    REQUIRE(all_in_band);
    CHECK(all_in_band->size() == ours.size() + 1);
    RuleFilter owned = kBand;
    owned.protocol = own::kRouteProtocol;
    auto only_ours = dump_rules(rt, owned);
    REQUIRE(only_ours);
    CHECK(*only_ours == ours);
    must("ip rule del pref 7055");

    Status dup = apply(rt, [&](MsgWriter& w) { return encode_rule(w, RuleOp::add, ours[0], own::kRouteProtocol); });
    REQUIRE_FALSE(dup);
    CHECK(dup.error().why.find("EEXIST") != std::string::npos);

    for (const auto& r : *dumped) REQUIRE(apply(rt, [&](MsgWriter& w) { return encode_rule(w, RuleOp::remove, r, 0); }));
    dumped = dump_rules(rt, kBand);
    REQUIRE(dumped);
    CHECK(dumped->empty());
    CHECK(sh("ip rule show pref 100").find("10.5.0.0/16") != std::string::npos);
}

TEST_CASE("xfrm policies: add, update, dump by ownership and delete; the operator's stays") {
    Socket xfrm = open_socket(NETLINK_XFRM);
    must("ip xfrm policy add src 10.7.0.0/16 dst 10.8.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.9 proto esp "
         "reqid 7 mode tunnel");
    std::vector<XfrmPolicy> ours = {policy("10.1.0.0/16", "10.2.0.0/16", XfrmDir::out, own::kReqidFirst + 1),
                                    policy("10.2.0.0/16", "10.1.0.0/16", XfrmDir::in, own::kReqidFirst + 2),
                                    policy("10.2.0.0/16", "10.1.0.0/16", XfrmDir::fwd, own::kReqidFirst + 2)};
    XfrmPolicy drop;
    drop.src = pfx("0.0.0.0/0");
    drop.dst = pfx("10.2.0.0/16");
    drop.action = XfrmAction::block;
    drop.priority = own::kPolicyDropPriority;
    drop.if_id = own::kIfIdFirst;
    ours.push_back(drop);
    for (const auto& p : ours) REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_policy(w, XfrmWrite::add, p); }));
    std::sort(ours.begin(), ours.end());

    auto dumped = dump_policies(xfrm, policy_owned(kReqids, kIfIds));
    REQUIRE(dumped);
    CHECK(*dumped == ours);

    // Update: the kernel finds the policy by selector, dir, mark and if_id.
    // (An optional template is refused in an outbound policy: pick the inbound one.)
    XfrmPolicy changed = *std::find_if(ours.begin(), ours.end(), [](const auto& p) { return p.dir == XfrmDir::in; });
    changed.priority = 900;
    changed.templates[0].optional = true;
    REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_policy(w, XfrmWrite::update, changed); }));
    dumped = dump_policies(xfrm, policy_owned(kReqids, kIfIds));
    REQUIRE(dumped);
    CHECK(dumped->size() == ours.size());
    CHECK(std::count(dumped->begin(), dumped->end(), changed) == 1);

    Status dup = apply(xfrm, [&](MsgWriter& w) { return encode_policy(w, XfrmWrite::add, ours[1]); });
    REQUIRE_FALSE(dup);
    CHECK(dup.error().what == "add xfrm policy");

    for (const auto& p : *dumped) REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_policy_delete(w, p); }));
    dumped = dump_policies(xfrm, policy_owned(kReqids, kIfIds));
    REQUIRE(dumped);
    CHECK(dumped->empty());
    auto all = dump_policies(xfrm, {});
    REQUIRE(all);
    REQUIRE(all->size() == 1);
    CHECK(all->at(0).templates.at(0).reqid == 7u);
}

TEST_CASE("xfrm SAs: the kernel's reason when it cannot, a full round trip when it can") {
    Socket xfrm = open_socket(NETLINK_XFRM);
    XfrmSa sa;
    sa.src = ip("192.0.2.1");
    sa.dst = ip("198.51.100.7");
    sa.spi = 0x4156a001;
    sa.reqid = own::kReqidFirst + 1;
    sa.if_id = own::kIfIdFirst;
    sa.encap_sport = sa.encap_dport = 4500;
    std::vector<uint8_t> key(20, 0x11);
    Status st = apply(xfrm, [&](MsgWriter& w) {
        return encode_sa(w, XfrmWrite::add, sa, Bytes(key.data(), key.size()));
    });
    if (!st) {
        // This machine's kernel has no ESP/GCM: the error says so in the kernel's own words.
        MESSAGE("SA refused as expected here: " << st.error().str());
        CHECK(st.error().what == "add xfrm sa");
        CHECK(st.error().where.find("spi 0x4156a001") != std::string::npos);
        CHECK(st.error().why.find("; kernel: ") != std::string::npos);
        return;
    }
    auto dumped = dump_sas(xfrm, sa_reqid_in(kReqids));
    REQUIRE(dumped);
    REQUIRE(dumped->size() == 1);
    CHECK(dumped->at(0) == sa);
    XfrmSa longer = sa;
    longer.hard_seconds = 7200;
    REQUIRE(apply(xfrm, [&](MsgWriter& w) {
        return encode_sa(w, XfrmWrite::update, longer, Bytes(key.data(), key.size()));
    }));
    dumped = dump_sas(xfrm, sa_reqid_in(kReqids));
    REQUIRE(dumped);
    CHECK(dumped->at(0) == longer);
    REQUIRE(apply(xfrm, [&](MsgWriter& w) { return encode_sa_delete(w, longer); }));
    dumped = dump_sas(xfrm, sa_reqid_in(kReqids));
    REQUIRE(dumped);
    CHECK(dumped->empty());
}
