// load-conn / load-shared mapping: golden messages for the three tunnel
// kinds avpn loads (policy-based, AWS route-based, Azure), PSK file rules.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/text.hpp"
#include "vici_fixtures.hpp"

using namespace avpn::vici;

namespace {

std::string golden_path(const std::string& name) {
    const char* src = std::getenv("AVPN_SOURCE_DIR");
    return std::string(src ? src : ".") + "/tests/unit/vici/golden/" + name + ".txt";
}

// Compares with the golden file; AVPN_UPDATE_GOLDEN=1 rewrites it instead.
void check_golden(const std::string& name, const std::string& text) {
    const std::string path = golden_path(name);
    if (std::getenv("AVPN_UPDATE_GOLDEN")) {
        std::ofstream(path) << text;
        return;
    }
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "missing golden file " << path << " (AVPN_UPDATE_GOLDEN=1 writes it)");
    std::stringstream want;
    want << in.rdbuf();
    CHECK_MESSAGE(text == want.str(), "load-conn for " << name << " differs from " << path << ":\n" << text);
}

void golden(const Connection& c, const std::string& name) {
    auto msg = load_conn_message(c);
    REQUIRE_MESSAGE(msg.ok(), msg.error().str());
    check_golden(name, to_text(*msg));
    auto enc = encode_message(*msg);  // and it fits the wire
    REQUIRE(enc.ok());
    CHECK(decode_message(*enc).ok());
}

}  // namespace

TEST_CASE("golden load-conn: policy-based tunnel") { golden(fixtures::policy_tunnel(), "policy_based"); }
TEST_CASE("golden load-conn: AWS route-based tunnel") { golden(fixtures::aws_tunnel(), "aws_route_based"); }
TEST_CASE("golden load-conn: Azure tunnel") { golden(fixtures::azure_tunnel(), "azure"); }

TEST_CASE("connections avpn must not load are refused with a reason") {
    Connection c = fixtures::policy_tunnel();
    c.name = "office";
    CHECK(load_conn_message(c).error().why.find("avpn- prefix") != std::string::npos);
    c = fixtures::policy_tunnel();
    c.child.name.clear();
    CHECK_FALSE(load_conn_message(c).ok());
    c = fixtures::policy_tunnel();
    c.remote_addrs.clear();
    CHECK(load_conn_message(c).error().why.find("remote address") != std::string::npos);
    c.child.start_action = "none";  // a responder may accept any peer address
    CHECK(load_conn_message(c).ok());
    c.version = 3;
    CHECK_FALSE(load_conn_message(c).ok());
    c = fixtures::policy_tunnel();
    c.child.name = std::string(300, 'x');
    CHECK_FALSE(load_conn_message(c).ok());
}

TEST_CASE("IKEv2 leaves dpd_timeout to charon's retransmissions; IKEv1 sends it") {
    Connection c = fixtures::policy_tunnel();
    c.dpd_timeout = 150;
    CHECK_FALSE(load_conn_message(c)->section(c.name)->has("dpd_timeout"));
    c.version = 1;
    CHECK(load_conn_message(c)->section(c.name)->value_or("dpd_timeout") == "150");
}

TEST_CASE("the fingerprint follows every mapped field and nothing else") {
    const Connection base = fixtures::policy_tunnel();
    const std::string fp = *fingerprint(*load_conn_message(base));
    CHECK(fp.size() == 64);
    CHECK(*fingerprint(*load_conn_message(base)) == fp);
    Connection c = base;
    c.child.esp_proposals = {"aes128-sha256"};
    CHECK(*fingerprint(*load_conn_message(c)) != fp);
    c = base;
    c.rekey_time += 1;
    CHECK(*fingerprint(*load_conn_message(c)) != fp);
    c = base;
    c.psk_file = "/elsewhere";  // the secret's location is not configuration charon sees
    CHECK(*fingerprint(*load_conn_message(c)) == fp);
}

TEST_CASE("load-shared names the key by connection and owns both identities (or addresses)") {
    Secret psk("s3cret");
    Connection c = fixtures::policy_tunnel();
    auto msg = load_shared_message(c, psk);
    REQUIRE(msg.ok());
    CHECK(msg->value_or("id") == c.name);
    CHECK(msg->value_or("type") == "IKE");
    CHECK(msg->value_or("data") == "s3cret");
    CHECK(*msg->list("owners") == std::vector<std::string>{c.local_id, c.remote_id});
    c.local_id.clear();
    c.remote_id.clear();
    CHECK(*load_shared_message(c, psk)->list("owners") == std::vector<std::string>{"192.0.2.1", "198.51.100.7"});
}

TEST_CASE("PSK files: strict mode, trailing newline stripped, empty refused") {
    char tmpl[] = "/tmp/avpn-psk-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    const std::string path = tmpl;
    std::ofstream(path) << "correct horse\n";
    ::chmod(path.c_str(), 0600);
    auto ok = read_psk_file(path);
    REQUIRE_MESSAGE(ok.ok(), ok.error().str());
    CHECK(ok->view() == "correct horse");
    ::chmod(path.c_str(), 0640);
    auto loose = read_psk_file(path);
    REQUIRE_FALSE(loose.ok());
    CHECK(loose.error().why.find("0640") != std::string::npos);
    CHECK(loose.error().why.find("horse") == std::string::npos);
    std::ofstream(path) << "\n";
    ::chmod(path.c_str(), 0400);
    CHECK(read_psk_file(path).error().why.find("no secret") != std::string::npos);
    ::unlink(path.c_str());
    CHECK_FALSE(read_psk_file(path).ok());
    CHECK_FALSE(read_psk_file("").ok());
}
