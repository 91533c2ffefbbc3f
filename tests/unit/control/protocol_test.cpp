// The control protocol's decoding is avpnd's exposure to any local user in
// its group: every malformed, oversized or misplaced input must come back as
// an Error, never a crash or a half-filled request.
#include <doctest/doctest.h>

#include <string>

#include "orchestrator/control/flat_json.hpp"
#include "orchestrator/control/protocol.hpp"

using namespace avpn::control;

TEST_CASE("a request survives encode and decode") {
    Request r;
    r.command = Command::apply;
    r.json = true;
    r.config = "/etc/avpn/site \"a\"\\b\n.toml";
    r.settle = 7;
    r.confirm_seconds = 120;
    auto back = decode_request(encode(r));
    REQUIRE(back.ok());
    CHECK(back->command == Command::apply);
    CHECK(back->json);
    CHECK(back->config == r.config);
    CHECK(back->settle == 7);
    CHECK(back->confirm_seconds == 120);

    Request k;
    k.command = Command::rekey;
    k.group = "demo";
    k.peer = "branch1";
    auto rekey = decode_request(encode(k));
    REQUIRE(rekey.ok());
    CHECK(rekey->command == Command::rekey);
    CHECK(rekey->group == "demo");
    CHECK(rekey->peer == "branch1");

    for (Command c : {Command::down, Command::status, Command::reload, Command::confirm, Command::rekey}) {
        Request q;
        q.command = c;
        auto d = decode_request(encode(q));
        REQUIRE(d.ok());
        CHECK(d->command == c);
    }
}

TEST_CASE("a reply survives encode and decode, also with control characters and UTF-8") {
    Reply r{3, "applied 1 change\n\t\x01 ü 🙂", "avpnctl apply: warning: x\n"};
    auto back = decode_reply(encode(r));
    REQUIRE(back.ok());
    CHECK(back->exit == 3);
    CHECK(back->out == r.out);
    CHECK(back->err == r.err);
}

TEST_CASE("\\u escapes, surrogate pairs included, decode to UTF-8") {
    auto o = parse_flat_object(R"({"a":"\u00fc\ud83d\ude42\/"})");
    REQUIRE(o.ok());
    CHECK(o->at("a").text == "ü🙂/");
}

TEST_CASE("malformed JSON is an error naming the byte") {
    const char* bad[] = {
        "",
        "   ",
        "[]",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"raw\ncontrol\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":1.5}",
        "{\"a\":1e3}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":99999999999999999999}",
        "{\"a\":tru}",
        "{\"a\":{}}",
        "{\"a\":[1]}",
        "{\"a\":1,\"a\":2}",
        "{a:1}",
        "\"just a string\"",
        "{\"a\":1",
    };
    for (const char* text : bad) {
        CAPTURE(text);
        auto o = parse_flat_object(text);
        REQUIRE_FALSE(o.ok());
        CHECK(o.error().where.rfind("byte ", 0) == 0);
    }
}

TEST_CASE("member count is bounded") {
    std::string many = "{";
    for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
    many += "}";
    CHECK_FALSE(parse_flat_object(many).ok());
    CHECK(parse_flat_object(many, 17).ok());
}

TEST_CASE("deeply nested or huge input fails fast and does not recurse") {
    std::string deep(100000, '[');
    CHECK_FALSE(parse_flat_object("{\"a\":" + deep).ok());
    std::string braces(100000, '{');
    CHECK_FALSE(parse_flat_object(braces).ok());
    std::string long_string = "{\"a\":\"" + std::string(1 << 20, 'x') + "\"}";
    auto o = parse_flat_object(long_string);
    REQUIRE(o.ok());
    CHECK(o->at("a").text.size() == size_t(1) << 20);
}

TEST_CASE("requests with a wrong version, command, member or value are refused by name") {
    struct Case {
        const char* json;
        const char* needle;  // in Error.str()
    };
    const Case cases[] = {
        {R"({"command":"status"})", "protocol"},
        {R"({"protocol":2,"command":"status"})", "version 2"},
        {R"({"protocol":"1","command":"status"})", "protocol"},
        {R"({"protocol":1})", "command"},
        {R"({"protocol":1,"command":"format-disk"})", "unknown command"},
        {R"({"protocol":1,"command":7})", "command"},
        {R"({"protocol":1,"command":"status","config":"/x"})", "config"},
        {R"({"protocol":1,"command":"confirm","json":true})", "json"},
        {R"({"protocol":1,"command":"status","extra":null})", "extra"},
        {R"({"protocol":1,"command":"status","json":1})", "json"},
        {R"({"protocol":1,"command":"status","listen":11})", "listen"},
        {R"({"protocol":1,"command":"status","listen":-1})", "listen"},
        {R"({"protocol":1,"command":"apply"})", "config"},
        {R"({"protocol":1,"command":"apply","config":"relative/site.toml"})", "absolute"},
        {R"({"protocol":1,"command":"apply","config":""})", "absolute"},
        {R"({"protocol":1,"command":"apply","config":"/a\u0000b"})", "config"},
        {R"({"protocol":1,"command":"apply","config":"/x","settle":121})", "settle"},
        {R"({"protocol":1,"command":"apply","config":"/x","confirm":9})", "confirm"},
        {R"({"protocol":1,"command":"apply","config":"/x","confirm":3601})", "confirm"},
        {R"({"protocol":1,"command":"apply","config":"/x","confirm":0})", "confirm"},
        {R"({"protocol":1,"command":"apply","config":"/x","confirm":true})", "confirm"},
        {R"({"protocol":1,"command":"rekey","peer":"branch1"})", "needs a group"},
        {R"({"protocol":1,"command":"rekey","group":""})", "group"},
        {R"({"protocol":1,"command":"rekey","group":7})", "group"},
        {R"({"protocol":1,"command":"status","group":"demo"})", "group"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.json);
        auto r = decode_request(c.json);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().str().find(c.needle) != std::string::npos);
    }
    std::string long_path = R"({"protocol":1,"command":"apply","config":"/)" + std::string(5000, 'a') + "\"}";
    CHECK_FALSE(decode_request(long_path).ok());
}

TEST_CASE("replies must be complete and carry an exit code") {
    CHECK_FALSE(decode_reply(R"({"protocol":1,"exit":0,"stdout":""})").ok());
    CHECK_FALSE(decode_reply(R"({"protocol":1,"exit":256,"stdout":"","stderr":""})").ok());
    CHECK_FALSE(decode_reply(R"({"protocol":1,"exit":0,"stdout":"","stderr":"","more":1})").ok());
    CHECK_FALSE(decode_reply(R"({"protocol":2,"exit":0,"stdout":"","stderr":""})").ok());
    CHECK(decode_reply(R"({"protocol":1,"exit":0,"stdout":"","stderr":""})").ok());
}
