// The WireGuard poll's comparison: a device that lost, gained or changed a
// peer differs from what was applied; a port the kernel picked does not, nor
// does a roamed endpoint (peers roam; the resync still sets a configured one).
#include <doctest/doctest.h>

#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/runtime/wireguard_watch.hpp"
#include "plugins/wireguard/backend.hpp"

using namespace avpn;
using namespace avpn::runtime;

namespace {

nl::WgPeer peer(const std::string& key, const std::string& site, std::vector<std::string> prefixes) {
    nl::WgPeer p;
    p.public_key = key;
    p.site = site;
    for (const auto& s : prefixes) p.allowed_ips.push_back(*Prefix::parse(s));
    p.keepalive_seconds = 25;
    return p;
}

nl::WgDevice device() {
    nl::WgDevice d;
    d.ifname = "avpn-demo";
    d.private_key.private_key_file = "/etc/avpn/hq.key";
    d.public_key = "HUBKEY=";
    d.listen_port = 51820;
    d.peers = {peer("AAA=", "branch1", {"10.1.1.0/24", "10.255.0.2/32"}),
               peer("BBB=", "branch2", {"10.2.1.0/24", "10.255.0.3/32"})};
    return d;
}

// As a backend reads it: no site names, endpoints learned.
nl::WgDevice observed_of(nl::WgDevice d) {
    for (auto& p : d.peers) {
        p.site.clear();
        p.endpoint = Endpoint{*IpAddr::parse("192.0.2.11"), 40000};
    }
    return d;
}

}  // namespace

TEST_CASE("the device as applied holds, whatever endpoints the peers roamed to") {
    WireguardExpectation e;
    e.reset({device()});
    CHECK(e.interfaces() == std::vector<std::string>{"avpn-demo"});
    CHECK_FALSE(e.difference(observed_of(device())));
}

TEST_CASE("a removed, added or changed peer is a difference, named in words") {
    WireguardExpectation e;
    e.reset({device()});
    nl::WgDevice d = observed_of(device());
    d.peers.erase(d.peers.begin());
    auto diff = e.difference(d);
    REQUIRE(diff);
    CHECK(*diff == "peer AAA= (branch1) is missing");

    d = observed_of(device());
    d.peers.push_back(peer("CCC=", "", {"10.9.0.0/24"}));
    diff = e.difference(d);
    REQUIRE(diff);
    CHECK(*diff == "peer CCC= is not avpn's");

    d = observed_of(device());
    d.peers[1].allowed_ips.pop_back();
    diff = e.difference(d);
    REQUIRE(diff);
    CHECK(*diff == "peer BBB= (branch2) has other allowed IPs");

    d = observed_of(device());
    d.peers[0].keepalive_seconds = 0;
    CHECK(e.difference(d));

    d = observed_of(device());
    d.peers.clear();
    diff = e.difference(d);
    REQUIRE(diff);
    CHECK(*diff == "2 peers missing, first peer AAA= (branch1) is missing");
}

TEST_CASE("device settings: key, fixed listen port and fwmark count; a port left to the kernel does not") {
    WireguardExpectation e;
    e.reset({device()});
    nl::WgDevice d = observed_of(device());
    d.listen_port = 40001;
    CHECK(e.difference(d));
    d = observed_of(device());
    d.fwmark = 7;
    CHECK(e.difference(d));
    d = observed_of(device());
    d.public_key = "OTHER=";
    CHECK(e.difference(d));

    nl::WgDevice any_port = device();
    any_port.listen_port = 0;
    e.reset({any_port});
    d = observed_of(device());
    d.listen_port = 40001;
    CHECK_FALSE(e.difference(d));
}

TEST_CASE("allowed IPs compare as sets, as the full apply's diff compares them") {
    WireguardExpectation e;
    e.reset({device()});
    nl::WgDevice d = observed_of(device());
    std::swap(d.peers[0].allowed_ips[0], d.peers[0].allowed_ips[1]);
    CHECK_FALSE(e.difference(d));

    nl::WgDevice twice = device();  // a prefix planned twice is held once by the device
    twice.peers[0].allowed_ips.push_back(twice.peers[0].allowed_ips[0]);
    e.reset({twice});
    CHECK_FALSE(e.difference(observed_of(device())));
}

TEST_CASE("a spoke's configured hub endpoint that the hub roamed away from is no difference") {
    nl::WgDevice spoke = device();
    spoke.peers[0].endpoint = Endpoint{*IpAddr::parse("192.0.2.1"), 51820};
    WireguardExpectation e;
    e.reset({spoke});
    CHECK_FALSE(e.difference(observed_of(device())));  // observed at 192.0.2.11:40000
}

TEST_CASE("an incremental apply updates the expectation: peers of `was` go, peers of `want` come") {
    WireguardExpectation e;
    e.reset({device()});
    nl::WgDevice want = device(), was = device();
    want.peers = {peer("AAA=", "branch1", {"10.1.1.0/24", "10.1.2.0/24", "10.255.0.2/32"}),
                  peer("DDD=", "branch3", {"10.3.1.0/24"})};
    was.peers = {peer("AAA=", "branch1", {"10.1.1.0/24", "10.255.0.2/32"}),
                 peer("BBB=", "branch2", {"10.2.1.0/24", "10.255.0.3/32"})};
    e.apply({want}, {was});

    nl::WgDevice now = want;  // BBB= removed, AAA= changed, DDD= added
    CHECK_FALSE(e.difference(observed_of(now)));
    CHECK(e.difference(observed_of(device())));

    e.apply({}, {now});  // the device itself went
    CHECK(e.empty());
    CHECK_FALSE(e.difference(observed_of(device())));  // not avpn's any more: nothing to say
}

namespace {

planner::SitePieces pieces_with(std::optional<Endpoint> branch1_at) {
    planner::SitePieces s;
    planner::GroupPieces g;
    g.constants.group = "corp";
    g.constants.transport = Transport::wireguard;
    g.constants.interface = "avpn-demo";
    planner::PeerInput p;
    p.name = "branch1";
    p.public_key = "AAA=";
    p.endpoint = branch1_at;
    g.peers.push_back(p);
    p.name = "branch2";
    p.public_key = "BBB=";
    p.endpoint.reset();  // a spoke without contact: the plan never sets its endpoint
    g.peers.push_back(p);
    s.groups.push_back(g);
    return s;
}

std::map<std::string, wg::WgDeviceStatus> seen_with(const char* branch1_at, int64_t handshake, const char* branch2_at) {
    wg::WgDeviceStatus d;
    d.device = device();
    d.device.peers[0].endpoint = *Endpoint::parse(branch1_at);
    d.device.peers[1].endpoint = *Endpoint::parse(branch2_at);
    d.peers = {wg::WgPeerStats{"AAA=", handshake, 0, 0}, wg::WgPeerStats{"BBB=", 1000, 0, 0}};
    return {{"avpn-demo", d}};
}

}  // namespace

TEST_CASE("WireGuard roams: a live peer away from its planned endpoint is followed, a stale one is not") {
    using Roams = std::map<std::pair<std::string, std::string>, Endpoint>;
    const Endpoint contact = *Endpoint::parse("198.51.100.7:51820");
    const Endpoint mapped = *Endpoint::parse("198.51.100.7:40001");
    const int64_t now = 1000;
    // At its contact: nothing to follow; branch2 (no planned endpoint) never.
    CHECK(wireguard_roams(pieces_with(contact), seen_with("198.51.100.7:51820", 990, "203.0.113.9:1"), now, {}).empty());
    // Elsewhere with a handshake 10 s ago: a roam.
    Roams roams = wireguard_roams(pieces_with(contact), seen_with("198.51.100.7:40001", 990, "203.0.113.9:1"), now, {});
    CHECK(roams == Roams{{{"corp", "branch1"}, mapped}});
    // The plan follows it (its endpoint is the roamed one): kept while held and live.
    CHECK(wireguard_roams(pieces_with(mapped), seen_with("198.51.100.7:40001", 995, "203.0.113.9:1"), now, roams) ==
          roams);
    // Moved again: the new place.
    CHECK(wireguard_roams(pieces_with(mapped), seen_with("198.51.100.7:40002", 995, "203.0.113.9:1"), now, roams) ==
          Roams{{{"corp", "branch1"}, *Endpoint::parse("198.51.100.7:40002")}});
    // No handshake for 180 s: dropped, the plan goes back to the contact.
    CHECK(wireguard_roams(pieces_with(mapped), seen_with("198.51.100.7:40001", now - 180, "203.0.113.9:1"), now, roams)
              .empty());
    // Never a handshake: an endpoint WireGuard did not learn, not a roam.
    CHECK(wireguard_roams(pieces_with(contact), seen_with("198.51.100.7:40001", 0, "203.0.113.9:1"), now, {}).empty());
    // Another transport's group is not read.
    auto xfrm = pieces_with(contact);
    xfrm.groups[0].constants.transport = Transport::xfrm;
    CHECK(wireguard_roams(xfrm, seen_with("198.51.100.7:40001", 990, "203.0.113.9:1"), now, {}).empty());
}
