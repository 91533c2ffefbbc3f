// The builder records the first error, counts the rest, and reports once.
#include <doctest/doctest.h>

#include "plugins/vici/builder.hpp"
#include "test_bytes.hpp"

using namespace avpn::vici;

using avpn::vici::test::contains;

TEST_CASE("a well-formed sequence builds the tree in order") {
    Builder b;
    b.begin_section("c").add("a", "1").add_list("l", {"x"}).begin_section("s").end_section().end_section();
    CHECK(b.error_count() == 0);
    auto r = b.finish();
    REQUIRE(r.ok());
    const Section* c = r->section("c");
    REQUIRE(c);
    REQUIRE(c->entries().size() == 3);
    CHECK(c->entries()[0].name == "a");
    CHECK(c->entries()[1].kind == Entry::Kind::List);
    CHECK(c->entries()[2].kind == Entry::Kind::Section);
}

TEST_CASE("the first error is reported once with the count of the others") {
    Builder b;
    b.item("stray")                  // 1: item outside a list (first)
        .add("k", "v")                // 2..: ignored but counted
        .end_section()
        .add(std::string(300, 'n'), "v");
    CHECK(b.error_count() == 4);
    auto r = b.finish();
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().why, "list item outside a list"));
    CHECK(contains(r.error().why, "and 3 more"));
}

TEST_CASE("each misuse is caught by the builder") {
    struct Case {
        const char* expect;
        void (*build)(Builder&);
    };
    const Case cases[] = {
        {"inside list", [](Builder& b) { b.begin_list("l").add("k", "v"); }},
        {"inside list", [](Builder& b) { b.begin_list("l").begin_section("s"); }},
        {"section end inside list", [](Builder& b) { b.begin_list("l").end_section(); }},
        {"nested inside list", [](Builder& b) { b.begin_list("l").begin_list("m"); }},
        {"list item outside a list", [](Builder& b) { b.item("x"); }},
        {"list end without a list", [](Builder& b) { b.end_list(); }},
        {"section end without a section", [](Builder& b) { b.end_section(); }},
        {"duplicate key", [](Builder& b) { b.add("k", "1").add("k", "2"); }},
        {"duplicate key", [](Builder& b) { b.add("k", "1").begin_section("k"); }},
        {"name of 0 bytes", [](Builder& b) { b.add("", "v"); }},
        {"name of 256 bytes", [](Builder& b) { b.begin_section(std::string(256, 's')); }},
        {"65536 bytes", [](Builder& b) { b.add("k", std::string(65536, 'v')); }},
        {"65536 bytes", [](Builder& b) { b.begin_list("l").item(std::string(65536, 'v')); }},
        {"not closed", [](Builder& b) { b.begin_list("l"); }},
        {"not closed", [](Builder& b) { b.begin_section("s"); }},
        {"deeper", [](Builder& b) {
             for (int i = 0; i < 40; ++i) b.begin_section("s");
         }},
    };
    for (const Case& c : cases) {
        CAPTURE(c.expect);
        Builder b;
        c.build(b);
        auto r = b.finish();
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().why, c.expect));
    }
}

TEST_CASE("numbers are encoded as decimal strings") {
    Builder b;
    b.add("zero", uint64_t(0)).add("big", uint64_t(4294967295u));
    auto r = b.finish();
    REQUIRE(r.ok());
    CHECK(r->value_or("zero") == "0");
    CHECK(r->value_or("big") == "4294967295");
}
