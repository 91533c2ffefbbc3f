#include <doctest/doctest.h>

#include "common/json.hpp"

using avpn::JsonWriter;

TEST_CASE("compact JSON with nesting, escaping and nulls") {
    JsonWriter w(false);
    w.begin_object();
    w.field("name", "a\"b\\c\n\x01");
    w.field("n", 42);
    w.field("ok", true);
    w.key("none").null();
    w.key("list").begin_array().value("x").value(uint64_t(7)).begin_object().end_object().end_array();
    w.key("empty").begin_array().end_array();
    w.end_object();
    CHECK(w.str() ==
          R"({"name":"a\"b\\c\n\u0001","n":42,"ok":true,"none":null,"list":["x",7,{}],"empty":[]})");
}

TEST_CASE("pretty JSON indents by two and ends with a newline") {
    JsonWriter w;
    w.begin_object().field("a", 1).key("b").begin_array().value(2).end_array().end_object();
    CHECK(w.str() == "{\n  \"a\": 1,\n  \"b\": [\n    2\n  ]\n}\n");
}
