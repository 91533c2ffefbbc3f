#include <doctest/doctest.h>

#include <algorithm>

#include "orchestrator/reconcile/diff.hpp"
#include "orchestrator/reconcile/kernel_image.hpp"
#include "plugins/wireguard/backend.hpp"

using namespace avpn;

namespace {

nl::Route route(const char* dst, const char* dev = "avpn-corp", uint32_t table = 7100) {
    return nl::Route{table, *Prefix::parse(dst), dev, std::nullopt, std::nullopt, 0};
}

nl::WgPeer peer(const char* key, std::vector<const char*> allowed, std::optional<Endpoint> ep = {}) {
    nl::WgPeer p;
    p.public_key = key;
    for (auto a : allowed) p.allowed_ips.push_back(*Prefix::parse(a));
    p.endpoint = ep;
    p.keepalive_seconds = 25;
    return p;
}

nl::KernelState base() {
    nl::KernelState s;
    s.links = {nl::Link{"avpn-corp", nl::LinkKind::wireguard, 0, 0, ""}};
    s.addresses = {nl::InterfaceAddress{"avpn-corp", *IpAddr::parse("100.64.0.7"), 10}};
    nl::WgDevice d;
    d.ifname = "avpn-corp";
    d.public_key = "PUB";
    d.private_key.private_key_file = "/etc/avpn/site.key";
    d.listen_port = 51820;
    d.peers = {peer("A", {"10.1.0.0/24"}), peer("B", {"10.2.0.0/24"})};
    s.wireguard = {d};
    s.routes = {route("10.1.0.0/24"), route("10.2.0.0/24")};
    s.rules = {nl::Rule{7000, Family::v4, 7100, {}, {}, 0, 0, false, -1}};
    return s;
}

}  // namespace

TEST_CASE("equal states give no ops") {
    CHECK(diff(base(), base()).empty());
}

TEST_CASE("everything missing is created in dependency order") {
    auto ops = diff(base(), {});
    REQUIRE(ops.size() == 6);
    for (size_t i = 1; i < ops.size(); ++i) CHECK(ops[i - 1].phase() <= ops[i].phase());
    for (const Op& op : ops) CHECK(op.kind == OpKind::create);
    CHECK(std::holds_alternative<nl::Link>(ops.front().object));
    CHECK(std::holds_alternative<nl::Rule>(ops.back().object));
}

TEST_CASE("everything observed but not desired is deleted in reverse order") {
    auto ops = diff({}, base());
    REQUIRE(ops.size() == 6);
    for (const Op& op : ops) CHECK(op.kind == OpKind::remove);
    CHECK(std::holds_alternative<nl::Rule>(ops.front().object));
    CHECK(std::holds_alternative<nl::Link>(ops.back().object));
}

TEST_CASE("deletes come before creates and only the delta is written") {
    auto want = base();
    want.routes = {route("10.1.0.0/24"), route("10.3.0.0/24")};
    auto ops = diff(want, base());
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].kind == OpKind::remove);
    CHECK(std::get<nl::Route>(ops[0].object).dst.str() == "10.2.0.0/24");
    CHECK(ops[1].kind == OpKind::create);
    CHECK(std::get<nl::Route>(ops[1].object).dst.str() == "10.3.0.0/24");
}

TEST_CASE("a route whose device changes is an update that remembers the old one") {
    auto want = base();
    want.routes[0].ifname = "avpn-other";
    auto ops = diff(want, base());
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    REQUIRE(ops[0].previous);
    CHECK(std::get<nl::Route>(*ops[0].previous).ifname == "avpn-corp");
    Op undo = ops[0].inverse();
    CHECK(std::get<nl::Route>(undo.object).ifname == "avpn-corp");
}

TEST_CASE("a link that changes kind is replaced and its dependents recreated") {
    auto want = base();
    want.links[0].kind = nl::LinkKind::xfrm;
    want.links[0].xfrm_if_id = 0x41560001;
    want.wireguard.clear();
    auto ops = diff(want, base());
    // What the kernel would drop with the old link is removed explicitly
    // first (routes, WireGuard device, address: each journaled, so an undo
    // restores it), then the link; link, address and both routes come again.
    size_t removes = 0, creates = 0;
    for (const Op& op : ops) (op.kind == OpKind::remove ? removes : creates)++;
    CHECK(removes == 5);
    CHECK(creates == 4);
    REQUIRE(ops.size() == 9);
    CHECK(std::holds_alternative<nl::Route>(ops[0].object));
    CHECK(std::holds_alternative<nl::Link>(ops[4].object));  // the link goes last of the removes
    CHECK(ops[4].kind == OpKind::remove);
    CHECK(std::holds_alternative<nl::Link>(ops[5].object));
    CHECK(ops[5].kind == OpKind::create);
}

TEST_CASE("routes whose source address goes are removed before it and created afresh") {
    // The tunnel subnet moves: the kernel drops every route whose prefsrc is
    // the old address when the address goes. Left implicit, an undo after a
    // later failure could not bring those routes back.
    auto have = base();
    for (auto& r : have.routes) r.prefsrc = *IpAddr::parse("100.64.0.7");
    auto want = base();
    want.addresses[0].address = *IpAddr::parse("100.64.8.7");
    for (auto& r : want.routes) r.prefsrc = *IpAddr::parse("100.64.8.7");
    auto ops = diff(want, have);
    size_t route_removes = 0, route_creates = 0, route_updates = 0;
    for (const Op& op : ops)
        if (std::holds_alternative<nl::Route>(op.object))
            (op.kind == OpKind::remove ? route_removes : op.kind == OpKind::create ? route_creates : route_updates)++;
    CHECK(route_removes == 2);
    CHECK(route_creates == 2);
    CHECK(route_updates == 0);
    // Both route removes come before the address remove.
    REQUIRE(ops.size() == 6);
    CHECK(std::holds_alternative<nl::Route>(ops[0].object));
    CHECK(std::holds_alternative<nl::Route>(ops[1].object));
    CHECK(std::holds_alternative<nl::InterfaceAddress>(ops[2].object));
    CHECK(ops[2].kind == OpKind::remove);
}

TEST_CASE("wireguard: a desired peer without endpoint accepts the roamed one") {
    auto want = base();
    auto have = base();
    have.wireguard[0].peers[0].endpoint = Endpoint::parse("198.51.100.9:40000");
    CHECK(diff(want, have).empty());
    want.wireguard[0].peers[0].endpoint = Endpoint::parse("198.51.100.9:51820");
    auto ops = diff(want, have);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
}

TEST_CASE("wireguard: allowed-IP and key changes are updates, order does not matter") {
    auto want = base();
    auto have = base();
    std::reverse(have.wireguard[0].peers.begin(), have.wireguard[0].peers.end());
    CHECK(diff(want, have).empty());
    want.wireguard[0].peers[1].allowed_ips.push_back(*Prefix::parse("10.9.0.0/24"));
    CHECK(diff(want, have).size() == 1);
    want = base();
    want.wireguard[0].public_key = "OTHER";
    CHECK(diff(want, have).size() == 1);
}

TEST_CASE("wireguard: the engine and the backend agree on what is a change") {
    // Each of these was once an update for the engine and an empty delta for
    // the backend, written again on every apply.
    auto want = base();
    auto have = base();
    want.wireguard[0].listen_port = 0;  // any port: the one the device has is fine
    CHECK(diff(want, have).empty());
    want = base();
    want.wireguard[0].peers[0].allowed_ips.push_back(want.wireguard[0].peers[0].allowed_ips[0]);  // a duplicate
    CHECK(diff(want, have).empty());
    // And what the backend would change is a change for the engine.
    want = base();
    want.wireguard[0].fwmark = 7100;
    REQUIRE(diff(want, have).size() == 1);
    CHECK(same_wireguard(want.wireguard[0], have.wireguard[0]) == wg::diff(want.wireguard[0], have.wireguard[0]).empty());
}

TEST_CASE("op counts per kind") {
    auto ops = diff(base(), {});
    OpCounts c = count(ops);
    CHECK(c.total() == 6);
    CHECK(c.created[5] == 2);  // routes
    CHECK(object_kind_name(5) == "route");
}

TEST_CASE("links: the kernel's own MTU and underlay are not drift when none is asked for") {
    auto want = base();
    auto have = base();
    have.links[0].mtu = 1420;
    CHECK(diff(want, have).empty());
    // An MTU asked for is set in place: the link keeps its address, routes
    // and peers (a replace used to tear the peers' sessions down).
    want.links[0].mtu = 1380;
    auto ops = diff(want, have);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    CHECK(std::get<nl::Link>(ops[0].object).mtu == 1380);
    REQUIRE(ops[0].previous);
    CHECK(std::get<nl::Link>(*ops[0].previous).mtu == 1420);
    // Its undo sets the old MTU back.
    Op undo = ops[0].inverse();
    CHECK(undo.kind == OpKind::update);
    CHECK(std::get<nl::Link>(undo.object).mtu == 1420);
}

TEST_CASE("links: a link found administratively down is set up in place, nothing else is redone") {
    // `ip link set avpn-corp down` (or a kill between create and raise): the
    // kernel flushed the routes through it; they come back after the link.
    auto want = base();
    auto have = base();
    have.links[0].up = false;
    have.routes.clear();
    auto ops = diff(want, have);
    REQUIRE(ops.size() == 3);
    CHECK(ops[0].kind == OpKind::update);
    CHECK(std::get<nl::Link>(ops[0].object).up);
    CHECK_FALSE(std::get<nl::Link>(*ops[0].previous).up);
    for (size_t i = 1; i < ops.size(); ++i) {
        CHECK(ops[i].kind == OpKind::create);
        CHECK(std::holds_alternative<nl::Route>(ops[i].object));
    }
}

TEST_CASE("links: a WireGuard backend that is asked for replaces a link served by the other one") {
    auto want = base();
    auto have = base();
    have.links[0].wg_impl = nl::WgImpl::userspace;  // wireguard-go serves it
    CHECK(diff(want, have).empty());                 // auto: either will do
    want.links[0].wg_impl = nl::WgImpl::userspace;
    CHECK(diff(want, have).empty());
    want.links[0].wg_impl = nl::WgImpl::kernel;
    auto ops = diff(want, have);
    // what lives on the TUN device is removed, then the device; the kernel
    // link comes, and what lived on the old one is written again: link,
    // address, WireGuard device, two routes
    REQUIRE(ops.size() == 10);
    CHECK(ops[4].kind == OpKind::remove);
    CHECK(std::get<nl::Link>(ops[4].object).wg_impl == nl::WgImpl::userspace);
    size_t removes = 0, creates = 0;
    for (const Op& op : ops) (op.kind == OpKind::remove ? removes : creates)++;
    CHECK(removes == 5);
    CHECK(creates == 5);
}

// diff skips its sort when a side is in key order already; a side that is
// not (any order a dump or a caller may give) must diff the same.
TEST_CASE("input order does not change the diff") {
    nl::KernelState want = base(), have = base();
    want.routes.push_back(route("10.3.0.0/24"));
    std::reverse(want.routes.begin(), want.routes.end());
    std::reverse(have.routes.begin(), have.routes.end());
    std::reverse(have.wireguard.front().peers.begin(), have.wireguard.front().peers.end());
    auto ops = diff(want, have);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::create);
    CHECK(std::get<nl::Route>(ops[0].object).dst == *Prefix::parse("10.3.0.0/24"));
    CHECK(diff(have, base()).empty());
}

TEST_CASE("an SA whose handshake session changed under the same SPI is deleted and created") {
    nl::XfrmSa sa;
    sa.src = *IpAddr::parse("192.0.2.11");
    sa.dst = *IpAddr::parse("192.0.2.1");
    sa.spi = 0x4b0eaf6d;
    sa.reqid = 0x4156806d;
    sa.key.session_key = 7;
    nl::KernelState was, want;
    was.xfrm_states = {sa};
    sa.key.session_key = 9;  // a retried initiation answered with the same SPI
    want.xfrm_states = {sa};
    auto ops = diff(want, was);
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].kind == OpKind::remove);
    CHECK(std::get<nl::XfrmSa>(ops[0].object).key.session_key == 7);
    CHECK(ops[1].kind == OpKind::create);
    CHECK(std::get<nl::XfrmSa>(ops[1].object).key.session_key == 9);

    // Against a dump, which knows no session, nothing can be told apart.
    nl::KernelState dumped = was;
    dumped.xfrm_states[0].key = nl::KeyRef{};
    CHECK(diff(want, dumped).empty());
    // The same session: no op.
    CHECK(diff(want, want).empty());
}

TEST_CASE("an SA replaced by one with another SPI goes after the new one is made") {
    nl::XfrmSa old_out;
    old_out.src = *IpAddr::parse("192.0.2.11");
    old_out.dst = *IpAddr::parse("192.0.2.1");
    old_out.spi = 0x40000001;
    old_out.reqid = 0x4156806d;
    nl::XfrmSa new_out = old_out;
    new_out.spi = 0x60000001;  // the next session's, the epoch bit flipped
    nl::KernelState was = base(), want = base();
    was.xfrm_states = {old_out};
    want.xfrm_states = {new_out};
    want.routes = {route("10.1.0.0/24")};  // and a route goes, as before: first
    auto ops = diff(want, was);
    REQUIRE(ops.size() == 3);
    CHECK(ops[0].kind == OpKind::remove);
    CHECK(std::holds_alternative<nl::Route>(ops[0].object));
    CHECK(ops[1].kind == OpKind::create);
    CHECK(std::get<nl::XfrmSa>(ops[1].object).spi == 0x60000001);
    CHECK(ops[2].kind == OpKind::remove);
    CHECK(std::get<nl::XfrmSa>(ops[2].object).spi == 0x40000001);
}

TEST_CASE("an SA that keeps its session and SPI but moves to another address is one update (a replace)") {
    nl::XfrmSa sa;
    sa.src = *IpAddr::parse("192.0.2.1");
    sa.dst = *IpAddr::parse("203.0.113.2");
    sa.spi = 0x5b0eaf6d;
    sa.reqid = 0x4156806d;
    sa.encap_sport = sa.encap_dport = 51820;
    sa.key.session_key = 7;
    nl::KernelState was, want;
    was.xfrm_states = {sa};
    nl::XfrmSa moved = sa;
    moved.dst = *IpAddr::parse("198.51.100.2");  // the spoke failed over to its backup uplink
    want.xfrm_states = {moved};
    auto ops = diff(want, was);
    REQUIRE(ops.size() == 1);
    CHECK(ops[0].kind == OpKind::update);
    CHECK(std::get<nl::XfrmSa>(ops[0].object).dst == moved.dst);
    REQUIRE(ops[0].previous);
    CHECK(std::get<nl::XfrmSa>(*ops[0].previous).dst == sa.dst);
    // Its undo moves it back.
    Op back = ops[0].inverse();
    CHECK(std::get<nl::XfrmSa>(back.object).dst == sa.dst);

    // The image follows the move: the old identity is gone.
    KernelImage im = KernelImage::of(was);
    im.record(ops);
    nl::KernelState slice = im.slice(want, was);
    REQUIRE(slice.xfrm_states.size() == 1);
    CHECK(slice.xfrm_states[0].dst == moved.dst);

    // Another session under the same SPI at the new address is no move.
    moved.key.session_key = 9;
    want.xfrm_states = {moved};
    ops = diff(want, was);
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].kind == OpKind::create);  // make-before-break: another destination
    CHECK(ops[1].kind == OpKind::remove);
}
