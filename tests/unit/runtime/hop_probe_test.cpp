// The openers' TTL from a traceroute's answers (plugins/probe/hop_probe.hpp);
// the socket itself runs in tests/netns/registry_shortcut_cgnat.sh.
#include <doctest/doctest.h>

#include "plugins/probe/hop_probe.hpp"

using namespace avpn;
using namespace avpn::probe;

namespace {
IpAddr A(const char* t) { return *IpAddr::parse(t); }
}  // namespace

TEST_CASE("inside addresses: private, shared (carrier NAT), link-local and loopback; the rest is public") {
    for (const char* in : {"10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1", "100.127.255.254",
                           "169.254.1.1", "127.0.0.1", "fd00::1", "fe80::1", "::1"})
        CHECK_MESSAGE(inside_address(A(in)), in);
    for (const char* out : {"172.32.0.1", "100.128.0.1", "100.63.255.255", "203.0.113.1", "198.51.100.1", "8.8.8.8",
                            "2001:db8::1"})
        CHECK_MESSAGE(!inside_address(A(out)), out);
}

TEST_CASE("openers' TTL: the hop of the first public router, before the destination") {
    HopAnswers behind_modem{{{1, A("192.168.1.1")}, {2, A("203.0.113.1")}, {3, A("198.51.100.1")}}, 4};
    CHECK(opener_ttl(behind_modem) == 2);
    HopAnswers behind_carrier{{{1, A("192.168.2.1")}, {2, A("100.64.7.1")}, {3, A("203.0.113.9")}}, 5};
    CHECK(opener_ttl(behind_carrier) == 3);
    // A silent hop (no answer) is skipped; the first public one still counts.
    HopAnswers silent_modem{{{2, A("100.64.7.1")}, {4, A("203.0.113.9")}}, std::nullopt};
    CHECK(opener_ttl(silent_modem) == 4);
    // A public address: no NAT, the first router is public.
    HopAnswers public_site{{{1, A("198.51.100.1")}}, 2};
    CHECK(opener_ttl(public_site) == 1);
    // Nobody answered, or only inside routers before the destination
    // itself did: unknown (the caller keeps its default).
    CHECK_FALSE(opener_ttl(HopAnswers{}));
    HopAnswers only_inside{{{1, A("192.168.1.1")}, {3, A("203.0.113.1")}}, 2};
    CHECK_FALSE(opener_ttl(only_inside));
}
