// The site's registry clients (orchestrator/runtime/registry_clients.hpp)
// against two real registry servers (plugins/registry/server.hpp) in memory:
// the datagrams are the real ones, the network between them a function that
// plays the NATs (each site's mapping as each registry sees it). The same
// code in avpnd runs over UDP in tests/netns/registry_nat.sh.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/crypto.hpp"
#include "key_file.hpp"
#include "orchestrator/runtime/registry_clients.hpp"
#include "plugins/registry/server.hpp"

using namespace avpn;
using namespace avpn::runtime;
using avpn::test::KeyFile;
using avpn::test::make_key;
using namespace std::chrono_literals;

namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

// nat_types() as "group/uplink: type" lines, the active uplink marked "*".
std::string nat_of(const RegistryClients& c, registry::Time now) {
    std::string out;
    for (const RegistryClients::NatType& n : c.nat_types(now))
        out += n.group + "/" + n.uplink + ": " + n.type + (n.active ? "*" : "") + "\n";
    return out;
}

// Sites "a" and "b" of group "corp", two registries; `mapping[i][r]` is
// site i's tunnel port as registry r sees it.
struct Net {
    std::string dir;
    KeyFile key[2], group_key, reg_key[2];
    Endpoint reg_at[2] = {ep("198.51.100.10:9350"), ep("198.51.100.11:9350")};
    std::optional<registry::Server> reg[2];
    bool reg_down[2] = {false, false};
    Endpoint mapping[2][2] = {{ep("203.0.113.1:51820"), ep("203.0.113.1:51820")},
                              {ep("203.0.113.2:51820"), ep("203.0.113.2:51820")}};
    const char* name[2] = {"a", "b"};
    registry::Time now = registry::Time{} + 1h;
    std::unique_ptr<RegistryClients> site[2];
    int registries = 2;
    std::vector<Endpoint> local[2];  // each site's LAN contacts
    // A registry's filtering-test alternate (restart_registry reads it), and
    // whether each site's NAT lets in its probe.
    std::optional<Endpoint> alternate[2];
    bool permissive[2] = {false, false};

    explicit Net(int n = 2) : registries(n) {
        char tmpl[] = "/tmp/avpn-registry-clients-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
        key[0] = make_key(dir, "a");
        key[1] = make_key(dir, "b");
        group_key = make_key(dir, "group");
        for (int r = 0; r < 2; ++r) {
            reg_key[r] = make_key(dir, "registry" + std::to_string(r));
            restart_registry(r);
        }
        for (int i = 0; i < 2; ++i) {
            site[i] = std::make_unique<RegistryClients>([this] {
                // Simulated minutes must give newer timestamps.
                auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
                return keying::tai64n_from_unix(1'800'000'000 + uint64_t(ns / 1'000'000'000), uint32_t(ns % 1'000'000'000));
            });
            Errors e = site[i]->configure({view(i)}, now);
            REQUIRE_MESSAGE(e.empty(), (e.empty() ? "" : e[0].str()));
        }
    }
    ~Net() { (void)std::system(("rm -rf " + dir).c_str()); }

    void restart_registry(int r) {
        registry::ServerConfig c;
        std::ifstream in(reg_key[r].path);
        std::string text;
        in >> text;
        c.static_private = *crypto::base64_decode_key(text);
        std::ifstream gin(group_key.path);
        gin >> text;
        c.groups = {{"corp", *crypto::base64_decode_key(text), {key[0].public_key, key[1].public_key}}};
        c.alternate = alternate[r];
        auto s = registry::Server::create(std::move(c));
        REQUIRE(s.ok());
        reg[r].emplace(std::move(*s));
    }

    RegistryGroupView view(int i) const {
        RegistryGroupView v;
        v.group = "corp";
        v.self = name[i];
        v.listen_port = 51820;
        v.key_file = key[i].path;
        v.group_key_file = group_key.path;
        for (int r = 0; r < registries; ++r) v.registries.push_back(RegistryPin{reg_at[r], reg_key[r].public_b64, {}});
        v.wanted = {{name[1 - i], key[1 - i].public_b64}};
        v.contact_hold = 1h;
        v.local = local[i];
        return v;
    }

    int registry_at(const Endpoint& to) const { return to == reg_at[0] ? 0 : to == reg_at[1] ? 1 : -1; }

    // Site i's datagrams to the registries and everything that follows.
    void deliver(int i, std::vector<RegistryClients::Send> sends) {
        for (RegistryClients::Send& s : sends) {
            const int r = registry_at(s.to);
            REQUIRE(r >= 0);
            if (reg_down[r]) continue;
            auto out = reg[r]->on_datagram(s.bytes, mapping[i][r], now);
            if (out) route(r, *out);
        }
    }
    void route(int r, const std::vector<registry::Outgoing>& out) {
        for (const registry::Outgoing& o : out)
            for (int j = 0; j < 2; ++j)
                if (mapping[j][r] == o.to && o.from_alternate) {
                    std::vector<RegistryClients::Send> back;
                    if (permissive[j]) CHECK(site[j]->receive("corp", *alternate[r], o.datagram, now, back));
                    CHECK(back.empty());
                } else if (mapping[j][r] == o.to) {
                    std::vector<RegistryClients::Send> back;
                    CHECK(site[j]->receive("corp", reg_at[r], o.datagram, now, back));
                    deliver(j, std::move(back));
                }
    }
    // `d` of simulated time in 100 ms steps, every side ticking.
    void run(std::chrono::milliseconds d) {
        for (const auto end = now + d; now < end; now += 100ms) {
            for (int r = 0; r < 2; ++r)
                if (!reg_down[r]) route(r, reg[r]->tick(now));
            for (int i = 0; i < 2; ++i) deliver(i, site[i]->tick(now));
        }
    }
};

}  // namespace

TEST_CASE("registry clients: each site learns its peer's contact and its own; the same mapping at two registries is friendly") {
    Net net;
    net.run(3s);
    const auto& a = net.site[0]->contacts();
    REQUIRE(a.count({"corp", "b"}) == 1);
    CHECK(a.at({"corp", "b"}) == ep("203.0.113.2:51820"));
    CHECK(a.at({"corp", "a"}) == ep("203.0.113.1:51820"));
    CHECK(net.site[1]->contacts().at({"corp", "a"}) == ep("203.0.113.1:51820"));
    CHECK(net.site[0]->take_changed());
    CHECK_FALSE(net.site[0]->take_changed());
    CHECK(net.site[0]->nat_type("corp", net.now) == "friendly");
    for (const auto& s : net.site[0]->status(net.now)) {
        CHECK(s.reachable);
        CHECK(s.observed == ep("203.0.113.1:51820"));
        CHECK(s.handshakes == 1);
    }
    // Keepalives keep it so without new handshakes or changes.
    net.run(60s);
    CHECK_FALSE(net.site[0]->take_changed());
    CHECK(net.site[0]->status(net.now)[0].handshakes == 1);
}

TEST_CASE("registry clients: different mappings at two registries are unfriendly; one registry says unknown") {
    Net net;
    net.mapping[0][1] = ep("203.0.113.1:61000");  // a's NAT maps per destination
    net.run(3s);
    CHECK(net.site[0]->nat_type("corp", net.now) == "unfriendly");
    CHECK(net.site[1]->nat_type("corp", net.now) == "friendly");
    // The contact is the first registry's (the order of the site file).
    CHECK(net.site[1]->contacts().at({"corp", "a"}) == ep("203.0.113.1:51820"));
    Net one(1);
    one.run(3s);
    CHECK(one.site[0]->nat_type("corp", one.now) == "unknown");
    CHECK(one.site[0]->contacts().count({"corp", "b"}) == 1);
}

TEST_CASE("registry clients: filtering from the registries' probes, this site's and its peer's, per uplink") {
    Net net;
    net.alternate[0] = ep("198.51.100.10:9351");  // reg 1 has none: it says "cannot test"
    net.restart_registry(0);
    net.permissive[0] = true;  // a's NAT lets the probe in, b's does not
    net.run(5s);
    CHECK(net.site[0]->filtering("corp", net.now) == "permissive");
    CHECK(net.site[1]->filtering("corp", net.now) == "strict");
    // Each learns the other's from the registry, with its contact.
    CHECK(net.site[1]->peer_filtering("corp", "a", net.now) == "permissive");
    CHECK(net.site[0]->peer_filtering("corp", "b", net.now) == "strict");
    CHECK(net.site[0]->peer_filtering("corp", "nobody", net.now) == "unknown");
    REQUIRE(net.site[0]->nat_types(net.now).size() == 1);
    CHECK(net.site[0]->nat_types(net.now)[0].filtering == "permissive");
    bool logged = false;
    for (const std::string& e : net.site[0]->take_events())
        logged |= e == "registry: filtering of group corp's NAT: permissive";
    CHECK(logged);
    CHECK(net.site[0]->strangers() == 0);  // the probes were taken, not counted as strangers'
    // a's tunnels move to an uplink behind a strict NAT: unknown until the
    // new test concludes, then strict, and b hears of it.
    net.permissive[0] = false;
    net.mapping[0][0] = net.mapping[0][1] = ep("192.0.2.9:40000");
    net.deliver(0, net.site[0]->follow_uplink("wan1", ep("192.0.2.9:1").addr, net.now));
    CHECK(net.site[0]->filtering("corp", net.now) == "unknown");
    net.run(5s);
    CHECK(net.site[0]->filtering("corp", net.now) == "strict");
    CHECK(net.site[1]->peer_filtering("corp", "a", net.now) == "strict");
    // Without any alternate, nobody can tell.
    Net none;
    none.permissive[0] = none.permissive[1] = true;
    none.run(5s);
    CHECK(none.site[0]->filtering("corp", none.now) == "unknown");
    CHECK(none.site[1]->peer_filtering("corp", "a", none.now) == "unknown");
}

TEST_CASE("registry clients: the NAT type is per uplink, tested anew when the tunnels move, the old uplink's kept") {
    Net net;
    CHECK(net.site[0]->follow_uplink("wan0", ep("203.0.113.1:1").addr, net.now).empty());  // no session yet
    net.run(3s);
    CHECK(nat_of(*net.site[0], net.now) == "corp/wan0: friendly*\n");
    // Logged once when found, not at every tick after.
    auto nat_lines = [&] {
        size_t n = 0;
        for (const std::string& e : net.site[0]->take_events()) n += e.find("NAT type") != std::string::npos;
        return n;
    };
    CHECK(nat_lines() == 1);
    net.run(30s);
    CHECK(nat_lines() == 0);
    // Unchanged: nothing sent.
    CHECK(net.site[0]->follow_uplink("wan0", ep("203.0.113.1:1").addr, net.now).empty());
    // The tunnels move to wan1, whose NAT maps per destination. Until both
    // registries answer through it, one old answer and one new one must not
    // read as unfriendly: the test starts over.
    net.mapping[0][0] = ep("192.0.2.9:40000");
    net.mapping[0][1] = ep("192.0.2.9:40001");
    auto sends = net.site[0]->follow_uplink("wan1", ep("192.0.2.9:1").addr, net.now);
    net.now += 10ms;  // the answers come a little later
    CHECK(sends.size() == 2);  // a registration to each registry at once
    CHECK(net.site[0]->nat_type("corp", net.now) == "unknown");
    net.deliver(0, std::move(sends));
    CHECK(nat_of(*net.site[0], net.now) == "corp/wan1: unfriendly*\ncorp/wan0: friendly\n");
    // One registry answering since the move is not enough for a verdict.
    net.mapping[0][0] = ep("198.18.0.1:51820");
    net.mapping[0][1] = ep("198.18.0.1:51820");
    net.now += 10ms;
    sends = net.site[0]->follow_uplink("wan1", ep("198.18.0.1:1").addr, net.now);  // a new address: a new NAT
    net.now += 10ms;
    REQUIRE(sends.size() == 2);
    net.deliver(0, {sends[0]});
    CHECK(net.site[0]->nat_type("corp", net.now) == "unknown");
    net.deliver(0, {sends[1]});
    CHECK(nat_of(*net.site[0], net.now) == "corp/wan1: friendly*\ncorp/wan0: friendly\n");
    // Back on wan0: its last verdict is replaced by the new test's.
    net.mapping[0][0] = ep("203.0.113.1:51820");
    net.mapping[0][1] = ep("203.0.113.1:61000");
    sends = net.site[0]->follow_uplink("wan0", ep("203.0.113.1:1").addr, net.now);
    net.now += 10ms;
    net.deliver(0, std::move(sends));
    net.run(1s);
    CHECK(nat_of(*net.site[0], net.now) == "corp/wan0: unfriendly*\ncorp/wan1: friendly\n");
}

TEST_CASE("registry clients: a moved peer's contact follows the push; a registry outage keeps contacts for the hold") {
    Net net;
    net.run(3s);
    REQUIRE(net.site[0]->take_changed());
    // b's NAT mapping changes: its next keepalive moves it, and the registry pushes it to a.
    net.mapping[1][0] = net.mapping[1][1] = ep("203.0.113.2:40000");
    net.run(12s);
    CHECK(net.site[0]->contacts().at({"corp", "b"}) == ep("203.0.113.2:40000"));
    CHECK(net.site[0]->take_changed());
    // Both registries go: after 60 s they are unreachable, the contacts stay.
    net.reg_down[0] = net.reg_down[1] = true;
    net.run(70s);
    for (const auto& s : net.site[0]->status(net.now)) CHECK_FALSE(s.reachable);
    CHECK(net.site[0]->contacts().at({"corp", "b"}) == ep("203.0.113.2:40000"));
    CHECK_FALSE(net.site[0]->take_changed());
    // One comes back, having forgotten everything: every site registers again
    // within a keepalive plus the answer timeout (docs/registry.md).
    net.restart_registry(0);
    net.reg_down[0] = false;
    const auto back = net.now;
    while (!(net.site[0]->status(net.now)[0].reachable && net.site[1]->status(net.now)[0].reachable) &&
           net.now - back < 30s)
        net.run(100ms);
    CHECK(net.now - back <= 13s);
    // Both gone for longer than the hold: the contact is dropped.
    net.reg_down[0] = true;
    net.run(61min);
    CHECK(net.site[0]->contacts().count({"corp", "b"}) == 0);
    CHECK(net.site[0]->take_changed());
    auto events = net.site[0]->take_events();
    CHECK(std::any_of(events.begin(), events.end(),
                      [](const std::string& e) { return e.find("dropped") != std::string::npos; }));
}

TEST_CASE("registry clients: two sites behind one public address get each other's LAN contact") {
    Net net;
    net.mapping[1][0] = net.mapping[1][1] = ep("203.0.113.1:40001");  // b behind a's NAT, another port
    net.local[0] = {ep("192.168.1.2:51820")};
    net.local[1] = {ep("192.168.1.3:51820")};
    for (int i = 0; i < 2; ++i) REQUIRE(net.site[i]->configure({net.view(i)}, net.now).empty());
    net.run(3s);
    CHECK(net.site[0]->contacts().at({"corp", "b"}) == ep("192.168.1.3:51820"));
    CHECK(net.site[1]->contacts().at({"corp", "a"}) == ep("192.168.1.2:51820"));
    // Their own contacts, for the peers elsewhere, stay the public ones.
    CHECK(net.site[0]->contacts().at({"corp", "a"}) == ep("203.0.113.1:51820"));
    // Behind different public addresses the LAN contact is not used.
    net.mapping[1][0] = net.mapping[1][1] = ep("203.0.113.2:51820");
    net.run(12s);
    CHECK(net.site[0]->contacts().at({"corp", "b"}) == ep("203.0.113.2:51820"));
}

TEST_CASE("registry clients: an unchanged view keeps the sessions; a new group key starts over; strangers are counted") {
    Net net;
    net.run(3s);
    REQUIRE(net.site[0]->configure({net.view(0)}, net.now).empty());
    net.run(1s);
    CHECK(net.site[0]->status(net.now)[0].handshakes == 1);
    std::vector<RegistryClients::Send> sends;
    CHECK_FALSE(net.site[0]->receive("corp", ep("192.0.2.99:9350"), Bytes(40, 0), net.now, sends));
    CHECK(net.site[0]->strangers() == 1);
    // The group key file changes: new clients, whose handshakes the
    // registries (still on the old key) refuse.
    make_key(net.dir, "group");
    REQUIRE(net.site[0]->configure({net.view(0)}, net.now).empty());
    CHECK(net.site[0]->status(net.now)[0].handshakes == 0);
    net.run(3s);
    CHECK(net.site[0]->status(net.now)[0].handshakes == 0);
    CHECK_FALSE(net.site[0]->status(net.now)[0].reachable);
    // A key file that cannot be read is an error naming the group.
    RegistryGroupView v = net.view(0);
    v.group_key_file = net.dir + "/missing.key";
    Errors e = net.site[0]->configure({v}, net.now);
    REQUIRE(e.size() == 1);
    CHECK(e[0].where == "corp");
    CHECK(net.site[0]->empty());
}
