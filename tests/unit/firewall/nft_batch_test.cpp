// The ownership check is the guarantee that avpn never touches an operator's
// tables: every refusal here must happen before libnftables sees anything
// (the netns tier shows the kernel unchanged after the same refusals).
#include <doctest/doctest.h>

#include <string>

#include "plugins/firewall/nft_batch.hpp"

using namespace avpn;
using namespace avpn::fw;

namespace {

// The refusal's text for `contents`, "" if it was accepted.
std::string refusal(const std::string& contents) {
    auto r = replace_batch(contents);
    return r ? "" : r.error().str();
}

}  // namespace

TEST_CASE("the batch adds, deletes and adds table inet avpn, then the checked contents") {
    auto r = replace_batch(R"([{"add": {"counter": {"family": "inet", "table": "avpn", "name": "c"}}}])");
    REQUIRE(r.ok());
    CHECK(*r ==
          R"({"nftables":[{"add":{"table":{"family":"inet","name":"avpn"}}},)"
          R"({"delete":{"table":{"family":"inet","name":"avpn"}}},)"
          R"({"add":{"table":{"family":"inet","name":"avpn"}}},)"
          R"({"add":{"counter":{"family":"inet","table":"avpn","name":"c"}}}]})");
}

TEST_CASE("empty contents leave an empty table") {
    auto r = replace_batch("[]");
    REQUIRE(r.ok());
    CHECK(r->find(R"("delete":{"table")") != std::string::npos);
}

TEST_CASE("remove is add then delete, so an absent table is no error") {
    CHECK(*remove_batch() == R"({"nftables":[{"add":{"table":{"family":"inet","name":"avpn"}}},)"
                            R"({"delete":{"table":{"family":"inet","name":"avpn"}}}]})");
}

TEST_CASE("commands outside table inet avpn are refused, naming what they name") {
    CHECK(refusal(R"([{"add": {"rule": {"family": "ip", "table": "nat", "chain": "post", "expr": []}}}])") ==
          "command 0 (add rule ip nat post): firewall contents refused: outside table inet avpn, the only table "
          "avpn owns");
    CHECK(refusal(R"([{"add": {"set": {"family": "ip", "table": "avpn", "name": "s", "type": "ipv4_addr"}}}])")
              .starts_with("command 0 (add set ip avpn s)"));
    CHECK(refusal(R"([{"add": {"chain": {"family": "inet", "table": "filter", "name": "input"}}}])")
              .starts_with("command 0 (add chain inet filter input)"));
    CHECK(refusal(R"([{"add": {"counter": {"table": "avpn", "name": "c"}}}])").starts_with("command 0 (add counter avpn c)"));
}

TEST_CASE("only add, and only objects inside the table") {
    std::string ok = R"({"add": {"counter": {"family": "inet", "table": "avpn", "name": "c"}}})";
    CHECK(refusal("[" + ok + R"(, {"flush": {"ruleset": null}}])").starts_with("command 1 (flush ruleset)"));
    CHECK(refusal(R"([{"delete": {"table": {"family": "ip", "name": "nat"}}}])")
              .starts_with("command 0 (delete table ip nat)"));
    CHECK(refusal(R"([{"delete": {"rule": {"family": "inet", "table": "avpn", "chain": "f", "handle": 4}}}])")
              .starts_with("command 0 (delete rule inet avpn f)"));
    CHECK(refusal(R"([{"add": {"table": {"family": "inet", "name": "avpn"}}}])")
              .starts_with("command 0 (add table inet avpn)"));
    CHECK(refusal(R"([{"add": {"flowtable": {"family": "inet", "table": "avpn", "name": "f"}}}])")
              .starts_with("command 0 (add flowtable inet avpn f)"));
    CHECK(refusal(R"([{"add": {"counter": {"family": "inet", "table": "avpn", "name": "c"}}, "delete": {}}])")
              .starts_with("command 0 (not a command)"));
    CHECK(refusal(R"([{"add": {"counter": {}, "rule": {}}}])").starts_with("command 0 (add)"));
    CHECK(refusal("[\"flush ruleset\"]").starts_with("command 0 (not a command)"));
}

TEST_CASE("a document that is not an array of commands, or not JSON, is refused") {
    CHECK(refusal(R"({"nftables": []})") == "firewall contents refused: not a JSON array of commands");
    CHECK(refusal("[{").starts_with("line 1 column 2: firewall contents is not JSON"));
    CHECK(refusal("").starts_with("line 1 column 0: firewall contents is not JSON"));
}

TEST_CASE("a duplicate key is refused: nft would keep the last, which was never checked") {
    CHECK(refusal(R"([{"add": {"rule": {"family": "inet", "table": "avpn", "table": "filter", "chain": "c"}}}])")
              .find("duplicate") != std::string::npos);
}

TEST_CASE("has_table finds inet avpn only") {
    const char* meta = R"({"metainfo": {"version": "1.0.6", "json_schema_version": 1}})";
    CHECK(*has_table(std::string(R"({"nftables": [)") + meta + "]}") == false);
    CHECK(*has_table(std::string(R"({"nftables": [)") + meta +
                     R"(, {"table": {"family": "ip", "name": "avpn", "handle": 1}}]})") == false);
    CHECK(*has_table(R"({"nftables": [{"table": {"family": "inet", "name": "avpn", "handle": 3}}]})") == true);
    CHECK_FALSE(has_table("[]").ok());
}

namespace {

// `nft -j list table inet avpn` as nft 1.0.6 prints it, shortened.
const char* kListing =
    R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "avpn", "handle": 7}},
        {"counter": {"family": "inet", "name": "rule-1", "table": "avpn", "handle": 1, "packets": 3, "bytes": 252}},
        {"set": {"family": "inet", "name": "peers-4", "table": "avpn", "type": "ipv4_addr", "handle": 2,
                 "flags": ["interval"], "elem": [{"prefix": {"addr": "10.1.1.0", "len": 24}}]}},
        {"chain": {"family": "inet", "table": "avpn", "name": "rules", "handle": 3}},
        {"rule": {"family": "inet", "table": "avpn", "chain": "rules", "handle": 4,
                  "expr": [{"counter": "rule-1"}, {"accept": null}]}}]})";

}  // namespace

TEST_CASE("a listing becomes contents again: adds without handles, counters with their values") {
    auto c = contents_of_listing(kListing);
    REQUIRE(c.ok());
    CHECK(c->find("handle") == std::string::npos);
    CHECK(c->find("metainfo") == std::string::npos);
    CHECK(c->find(R"("packets":3)") != std::string::npos);  // an undo keeps the counts
    CHECK(c->rfind(R"([{"add":{"counter":)", 0) == 0);
    // The same ownership check as the planner's contents: it may be replaced.
    auto batch = replace_batch(*c);
    REQUIRE_MESSAGE(batch.ok(), (batch.ok() ? "" : batch.error().str()));
    CHECK(batch->find(R"({"add":{"rule":{"family":"inet","table":"avpn","chain":"rules","expr")") != std::string::npos);
}

TEST_CASE("normalized listings differ only where the table does") {
    std::string counted = kListing;
    std::string other_handles = kListing;
    other_handles.replace(other_handles.find(R"("handle": 4)"), 11, R"("handle": 9)");
    counted.replace(counted.find(R"("packets": 3)"), 12, R"("packets": 8)");
    auto a = normalized_listing(kListing), b = normalized_listing(counted), c = normalized_listing(other_handles);
    REQUIRE((a.ok() && b.ok() && c.ok()));
    CHECK(*a == *b);  // counting is no change
    CHECK(*a == *c);  // nor is a re-created table's handles
    std::string extra = kListing;
    extra.replace(extra.find(R"({"accept": null})"), 16, R"({"drop": null})");
    auto d = normalized_listing(extra);
    REQUIRE(d.ok());
    CHECK(*a != *d);
    // An object of another table in a listing of avpn's is not taken for avpn's.
    std::string foreign = kListing;
    foreign.replace(foreign.find(R"("table": "avpn", "chain")"), 15, R"("table": "filt")");
    CHECK_FALSE(normalized_listing(foreign).ok());
    CHECK_FALSE(contents_of_listing(R"({"nftables": 1})").ok());
}
