// Hostile input: what a diagnostic echoes of the user's text is bounded and
// escaped, and the work to suggest a near key is bounded (issue 12, case 7).
#include "fixture.hpp"

using namespace avpn;
using namespace avpn::test;

namespace {

bool has_control(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

}  // namespace

TEST_CASE("a huge unknown key is reported once, truncated, with its length and no suggestion") {
    // 60 MB took 20 s and 528 MB: an unbounded edit distance and the key in
    // both the field path and the message. 1 MB shows the same shape.
    const std::string key(1 << 20, 'k');
    auto r = load(kSpoke + key + " = 1\n");
    REQUIRE(r.errors.size() == 1);
    const Error& e = r.errors[0];
    CHECK(e.where == std::string(kSiteFile) + ":6:1");
    CHECK(e.why.find("unknown key") != std::string::npos);
    CHECK(e.why.find("(1048576 bytes)") != std::string::npos);
    CHECK(e.why.find("did you mean") == std::string::npos);
    CHECK(e.what.size() < 200);
    CHECK(e.why.size() < 400);
}

TEST_CASE("a long unknown key close to a known one gets no suggestion work but a bounded echo") {
    auto r = load(kSpoke + "[site.x]\n" + std::string(100, 'a') + " = 1\n");
    CHECK_FALSE(r.ok());
    for (const Error& e : r.errors) CHECK(e.why.size() < 400);
}

TEST_CASE("control characters in an unknown key are escaped, never printed raw") {
    auto r = load(kSpoke + "[[vlan]]\nname = \"Corp\"\nid = 20\nsubnet = \"10.0.20.0/24\"\n\"na\\u0000me\\u001b[2J\" = 1\n");
    const Error* e = nullptr;
    for (const Error& x : r.errors)
        if (x.why.find("unknown") != std::string::npos) e = &x;
    REQUIRE(e);
    INFO(e->why);
    CHECK_FALSE(has_control(e->why));
    CHECK_FALSE(has_control(e->what));
    CHECK(e->why.find("na\\x00me\\x1b[2J") != std::string::npos);
}

TEST_CASE("a value echoed in a message has its control characters escaped") {
    auto r = load("[site]\nname = \"lon\\u0000don\"\nrole = \"spoke\"\nuplinks = [\"wan\\u00070\"]\nkey_file = \"london.key\"\n");
    CHECK_FALSE(r.ok());
    for (const Error& e : r.errors) {
        INFO(e.why);
        CHECK_FALSE(has_control(e.why));
    }
}

TEST_CASE("a NUL in a file name is an error, not a shorter path") {
    // libc and the kernel read a path up to its first NUL: "london.key\0x"
    // would open london.key, a file the config does not name. The file
    // under the full name exists here, so only the check refuses it.
    MemFiles files;
    files.put(std::string("/cfg/london.key\0x", 17), std::string(kSiteKey) + "\n");
    auto r = load("[site]\nname = \"london\"\nrole = \"spoke\"\nuplinks = [\"wan0\"]\nkey_file = \"london.key\\u0000x\"\n",
                  files);
    expect_error(r, "site.key_file", "5:12", {"control character (\\x00 at byte 10)", "printable text"});
}

TEST_CASE("a line break in an identity charon is given is an error naming the field") {
    auto r = load(kSpoke +
                  "[[ipsec]]\nname = \"aws\"\nremote = \"203.0.113.9\"\nlocal_subnets = [\"10.0.20.0/24\"]\n"
                  "remote_subnets = [\"172.31.0.0/16\"]\npsk_file = \"london.key\"\nremote_id = \"aws\\nleft=%any\"\n");
    const Error* e = nullptr;
    for (const Error& x : r.errors)
        if (x.what.find("remote_id") != std::string::npos) e = &x;
    REQUIRE(e);
    INFO(e->why);
    CHECK(e->why.find("control character (\\x0a at byte 3)") != std::string::npos);
    CHECK_FALSE(has_control(e->why));
}
