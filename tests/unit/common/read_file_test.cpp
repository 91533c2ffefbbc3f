// Reading the state directory's advisory records (charon's fingerprints,
// failures, retries and previous definitions; wireguard-go's daemons): a
// symlink planted in a record's place is never read through, so root never
// parses another file as avpn's bookkeeping (issue 12, case 4).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "common/atomic_file.hpp"

using namespace avpn;

TEST_CASE("a record is read by path, a symlink in its place is refused, a missing one reads as none") {
    char tmpl[] = "/tmp/avpn-read-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    std::ofstream(dir + "/record") << "avpn-a\t1\n";
    std::ofstream(dir + "/elsewhere") << "not avpn's\n";
    REQUIRE(::symlink((dir + "/elsewhere").c_str(), (dir + "/planted").c_str()) == 0);

    auto ok = read_file(dir + "/record", 1024);
    REQUIRE(ok);
    REQUIRE(ok->has_value());
    CHECK(**ok == "avpn-a\t1\n");
    auto none = read_file(dir + "/missing", 1024);
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    auto link = read_file(dir + "/planted", 1024);
    REQUIRE_FALSE(link);
    CHECK(link.error().code == ELOOP);
    CHECK_FALSE(read_file(dir + "/record", 4));  // larger than avpn writes there: EFBIG

    CHECK(read_advisory_record(dir + "/record") == "avpn-a\t1\n");
    CHECK(read_advisory_record(dir + "/planted").empty());
    CHECK(read_advisory_record(dir + "/missing").empty());
    CHECK(read_advisory_record("/nonexistent-dir/record").empty());
}
