// What an XFRM group needs from the runtime, without a kernel: loaded for
// check it is a warning saying apply needs avpnd; loaded for an apply it is
// kept apart (LoadedSite::needs_daemon) for the one-shot to refuse and
// avpnd to act on; and the ESP-in-UDP sockets avpnd holds for it
// (esp_sockets_of): IPv4 per XFRM group, IPv6 too when a contact is IPv6,
// none for WireGuard groups. The sockets themselves are tested in the
// netns tier (tests/netns/esp_socket_test.cpp).
#include <doctest/doctest.h>

#include "orchestrator/config/load.hpp"
#include "orchestrator/runtime/esp_sockets.hpp"
#include "orchestrator/runtime/load.hpp"
#include "tests/unit/config/fixture.hpp"

using namespace avpn;
using namespace avpn::runtime;

namespace {

const std::string kSite =
    "[site]\nname = \"hq\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\"\n"
    "[[autovpn]]\ngroup = \"wg\"\nlisten_port = 51820\ntunnel_subnet = \"100.64.0.0/16\"\n"
    "[[autovpn]]\ngroup = \"esp\"\ntransport = \"xfrm\"\nlisten_port = 4500\ntunnel_subnet = \"100.65.0.0/16\"\n";

LoadResult load_text(const std::string& text) { return load_site_text(text, "/cfg/site.toml", test::MemFiles()); }

}  // namespace

TEST_CASE("an XFRM group: a warning for check, kept apart for an apply, nothing for member") {
    LoadedSite check = loaded_site("/cfg/site.toml", load_text(kSite), LoadFor::check);
    CHECK(check.needs_daemon.empty());
    bool warned = false;
    for (const Error& w : check.warnings)
        if (w.what == "autovpn[1].transport") {
            warned = true;
            CHECK(w.where == "/cfg/site.toml:12:13");
            CHECK(w.why == "group \"esp\" (transport = \"xfrm\") needs avpnd: it holds the group's ESP-in-UDP socket "
                           "on port 4500 (apply needs avpnd)");
        }
    CHECK(warned);

    LoadedSite apply = loaded_site("/cfg/site.toml", load_text(kSite), LoadFor::apply);
    CHECK(apply.errors.empty());
    REQUIRE(apply.needs_daemon.size() == 1);
    CHECK(apply.needs_daemon[0].what == "autovpn[1].transport");
    for (const Error& w : apply.warnings) CHECK(w.what != "autovpn[1].transport");

    LoadedSite member = loaded_site("/cfg/site.toml", load_text(kSite), LoadFor::member);
    CHECK(member.needs_daemon.empty());
    for (const Error& w : member.warnings) CHECK(w.what != "autovpn[1].transport");
}

TEST_CASE("the ESP-in-UDP sockets of a site: one IPv4 per XFRM group, IPv6 when a contact is IPv6") {
    LoadResult r = load_text(kSite);
    REQUIRE(r.ok());
    std::vector<EspSocketWant> s = esp_sockets_of(*r.intent);
    REQUIRE(s.size() == 1);
    CHECK(s[0].group == "esp");
    CHECK(s[0].port == 4500);
    CHECK(s[0].family == Family::v4);
    CHECK(s[0].where == "/cfg/site.toml:10:1");

    Intent with_v6 = *r.intent;
    Member m;
    m.name = "far";
    m.contact = Endpoint::parse("[2001:db8::1]:4500");
    for (Group& g : with_v6.groups)
        if (g.name == "esp") g.members.push_back(m);
    s = esp_sockets_of(with_v6);
    REQUIRE(s.size() == 2);
    CHECK(s[0].family == Family::v4);
    CHECK(s[1].family == Family::v6);
    CHECK(s[1].port == 4500);

    Intent wireguard_only = *r.intent;
    wireguard_only.groups.pop_back();
    CHECK(esp_sockets_of(wireguard_only).empty());
}
