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
