// Tunnel status: list-sa parsing (shape captured from charon 5.9.8), choice
// among several SAs, failure classification from charon's log texts.
#include <doctest/doctest.h>

#include "fake_charon.hpp"
#include "plugins/vici/status.hpp"

using namespace avpn::vici;

namespace {

// `swanctl --list-sas --raw` of an established kernel-libipsec tunnel.
Section established_sa(bool with_newer_deleting_child = false) {
    Section ike;
    for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
             {"uniqueid", "2"}, {"version", "2"}, {"state", "ESTABLISHED"}, {"local-host", "192.0.2.1"},
             {"local-port", "4500"}, {"local-id", "a.example"}, {"remote-host", "192.0.2.2"},
             {"remote-port", "4500"}, {"remote-id", "b.example"}, {"initiator", "yes"},
             {"initiator-spi", "de86b3d382fdf6c8"}, {"responder-spi", "ed47703816aa9e81"},
             {"nat-remote", "yes"}, {"nat-any", "yes"}, {"encr-alg", "AES_CBC"}, {"encr-keysize", "256"},
             {"integ-alg", "HMAC_SHA2_256_128"}, {"prf-alg", "PRF_HMAC_SHA2_256"}, {"dh-group", "MODP_2048"},
             {"established", "42"}, {"rekey-time", "13960"}})
        ike.add_value(k, v);
    Section& children = ike.add_section("child-sas");
    Section& ch = children.add_section("avpn-t1-child-1");
    for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
             {"name", "avpn-t1-child"}, {"uniqueid", "1"}, {"reqid", "1"}, {"state", "INSTALLED"},
             {"mode", "TUNNEL"}, {"protocol", "ESP"}, {"encap", "yes"}, {"spi-in", "2443981b"},
             {"spi-out", "dc9ec89c"}, {"encr-alg", "AES_CBC"}, {"encr-keysize", "256"},
             {"integ-alg", "HMAC_SHA2_256_128"}, {"bytes-in", "168"}, {"packets-in", "2"},
             {"bytes-out", "168"}, {"packets-out", "2"}, {"rekey-time", "3307"}, {"life-time", "3960"},
             {"install-time", "0"}})
        ch.add_value(k, v);
    ch.add_list("local-ts", {"10.1.0.0/24"});
    ch.add_list("remote-ts", {"10.2.0.0/24"});
    if (with_newer_deleting_child) {
        Section& newer = children.add_section("avpn-t1-child-7");  // ch is not used past here
        newer.add_value("uniqueid", "7");
        newer.add_value("state", "DELETING");
    }
    return ike;
}

Event log_event(const char* conn, const char* msg) {
    Event e{"log", {}};
    e.message.add_value("group", "IKE");
    e.message.add_value("level", "1");
    e.message.add_value("ikesa-name", conn);
    e.message.add_value("msg", msg);
    return e;
}

}  // namespace

TEST_CASE("an established list-sa fills every status field") {
    TunnelStatus t = parse_ike_sa("avpn-t1", established_sa(), 1000);
    CHECK(t.up);
    CHECK(t.ike_state == "ESTABLISHED");
    CHECK(t.child_state == "INSTALLED");
    CHECK(t.initiator);
    CHECK(t.ike_id == 2);
    CHECK(t.established_seconds == 42);
    CHECK(t.established_since == 958);
    CHECK(t.local_host == "192.0.2.1");
    CHECK(t.local_port == 4500);
    CHECK(t.remote_host == "192.0.2.2");
    CHECK(t.remote_port == 4500);
    CHECK(t.remote_id == "b.example");
    CHECK_FALSE(t.nat_local);
    CHECK(t.nat_remote);
    CHECK(t.udp_encap);
    CHECK(t.ike_proposal == "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
    CHECK(t.esp_proposal == "AES_CBC-256/HMAC_SHA2_256_128");
    CHECK(t.child_id == 1);
    CHECK(t.spi_in == "2443981b");
    CHECK(t.spi_out == "dc9ec89c");
    CHECK(t.bytes_in == 168);
    CHECK(t.packets_out == 2);
    CHECK(t.ike_rekey_in == 13960);
    CHECK(t.child_rekey_in == 3307);
    CHECK(t.local_ts == std::vector<std::string>{"10.1.0.0/24"});
}

TEST_CASE("a connecting SA is not up; an installed child wins over a rekeyed one") {
    Section connecting;
    connecting.add_value("state", "CONNECTING");
    TunnelStatus c = parse_ike_sa("avpn-t1", connecting, 0);
    CHECK_FALSE(c.up);
    CHECK(c.ike_state == "CONNECTING");
    CHECK(c.child_state == "DOWN");
    CHECK(c.established_seconds == -1);

    Section two = established_sa(true);
    CHECK(parse_ike_sa("avpn-t1", two, 0).child_id == 1);
}

TEST_CASE("charon's failure texts are put in words") {
    CHECK(classify_failure("received AUTHENTICATION_FAILED notify error") == "authentication failed");
    CHECK(classify_failure("tried 1 shared key for 'a' - 'b', but MAC mismatched") == "authentication failed");
    CHECK(classify_failure("authentication of 'b.example' with pre-shared key failed") == "authentication failed");
    CHECK(classify_failure("authentication of 'b.example' with pre-shared key successful").empty());
    CHECK(classify_failure("received NO_PROPOSAL_CHOSEN notify error") == "no proposal chosen");
    CHECK(classify_failure("giving up after 3 retransmits") == "peer not responding");
    CHECK(classify_failure("received TS_UNACCEPTABLE notify, no CHILD_SA built") == "traffic selectors unacceptable");
    CHECK(classify_failure("no matching peer config found").find("peer configuration") != std::string::npos);
    CHECK(classify_failure("IKE_SA avpn-t1[1] established between ...").empty());
}

TEST_CASE("the failure tracker keeps the last failure per avpn connection only") {
    FailureTracker f;
    f.observe(log_event("avpn-t2", "received NO_PROPOSAL_CHOSEN notify error"), 10);
    f.observe(log_event("avpn-t2", "received AUTHENTICATION_FAILED notify error"), 20);
    f.observe(log_event("avpn-t2", "sending DELETE for IKE_SA"), 30);  // no failure: ignored
    f.observe(log_event("office", "received AUTHENTICATION_FAILED notify error"), 40);
    Event other{"ike-updown", {}};
    f.observe(other, 50);
    REQUIRE(f.last("avpn-t2"));
    CHECK(f.last("avpn-t2")->reason == "authentication failed");
    CHECK(f.last("avpn-t2")->at == 20);
    CHECK(f.last("office") == nullptr);
    CHECK(f.last("avpn-t1") == nullptr);
}

TEST_CASE("collect_status reports named connections, DOWN when charon has no SA, with failures") {
    test::FakeCharon charon;
    {
        std::lock_guard l(charon.mu());
        charon.active = {"avpn-a", "office"};
    }
    ClientOptions o;
    o.socket_path = charon.path();
    Client client(o);
    FailureTracker f;
    f.observe(log_event("avpn-b", "giving up after 3 retransmits"), 5);
    auto all = collect_status(client, {}, &f, 100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 1);  // avpn- connections only
    CHECK((*all)[0].name == "avpn-a");
    auto named = collect_status(client, {"avpn-a", "avpn-b"}, &f, 100);
    REQUIRE(named.ok());
    REQUIRE(named->size() == 2);
    CHECK((*named)[0].ike_state == "ESTABLISHED");
    CHECK((*named)[1].ike_state == "DOWN");
    CHECK((*named)[1].last_failure == "peer not responding");
    avpn::JsonWriter w(false);
    to_json(w, (*named)[1]);
    CHECK(w.str().find("\"last_failure\":\"peer not responding\"") != std::string::npos);
}
