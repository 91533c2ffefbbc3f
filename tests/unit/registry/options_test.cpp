#include <doctest/doctest.h>

#include "orchestrator/registry/options.hpp"

using namespace avpn;
using namespace avpn::registry;

TEST_CASE("avpn-registry's arguments: defaults, forms and refusals") {
    auto o = parse_options({"--key", "r.key", "--members", "a.toml", "--members=b.toml", "--group-key", "corp=g.key"});
    REQUIRE_MESSAGE(o, o.error().str());
    CHECK(o->listen == *Endpoint::parse("0.0.0.0:9350"));
    CHECK(o->key_file == "r.key");
    CHECK(o->member_files == std::vector<std::string>{"a.toml", "b.toml"});
    REQUIRE(o->group_keys.size() == 1);
    CHECK(o->group_keys[0] == std::make_pair(std::string("corp"), std::string("g.key")));

    auto l = parse_options({"--listen", "192.0.2.1", "--key", "k", "--members", "m"});
    REQUIRE(l);
    CHECK(l->listen == *Endpoint::parse("192.0.2.1:9350"));
    l = parse_options({"--listen=[2001:db8::1]:9351", "--key", "k", "--members", "m"});
    REQUIRE(l);
    CHECK(l->listen == *Endpoint::parse("[2001:db8::1]:9351"));
    l = parse_options({"--listen", "127.0.0.1:0", "--key", "k", "--members", "m", "--group-key=lab=x=y"});
    REQUIRE(l);
    CHECK(l->listen.port == 0);
    CHECK(l->group_keys[0].second == "x=y");

    auto a = parse_options({"--listen", "192.0.2.1", "--alternate", "192.0.2.2:9350", "--key", "k", "--members", "m"});
    REQUIRE_MESSAGE(a, a.error().str());
    REQUIRE(a->alternate);
    CHECK(*a->alternate == *Endpoint::parse("192.0.2.2:9350"));
    CHECK_FALSE(l->alternate);  // off unless given

    struct Bad {
        std::vector<std::string> args;
        const char* says;
    };
    for (const Bad& b : {Bad{{"--members", "m"}, "--key"}, Bad{{"--key", "k"}, "--members"},
                         Bad{{"--key", "k", "--members", "m", "--listen", "nonsense"}, "not ADDR[:PORT]"},
                         Bad{{"--key", "k", "--members", "m", "--listen", "1.2.3.4:1", "--listen", "1.2.3.4:2"}, "twice"},
                         Bad{{"--key", "k", "--key", "j", "--members", "m"}, "twice"},
                         Bad{{"--key", "k", "--members", "m", "--group-key", "corp"}, "GROUP=FILE"},
                         Bad{{"--key", "k", "--members", "m", "--group-key", "=f"}, "GROUP=FILE"},
                         Bad{{"--key", "k", "--members"}, "needs a value"},
                         Bad{{"--key", "k", "--members", "m", "extra"}, "unknown argument"},
                         Bad{{"--key", "k", "--members", "m", "--alternate", "192.0.2.2"}, "not ADDR:PORT"},
                         Bad{{"--key", "k", "--members", "m", "--alternate", "[2001:db8::2]:9351"}, "address family"},
                         Bad{{"--key", "k", "--members", "m", "--listen", "192.0.2.1:9350", "--alternate", "192.0.2.1:9350"},
                             "must differ"},
                         Bad{{"--key", "k", "--members", "m", "--alternate", "192.0.2.2:1", "--alternate", "192.0.2.2:2"},
                             "twice"}}) {
        auto r = parse_options(b.args);
        REQUIRE_FALSE(r);
        CHECK_MESSAGE(r.error().str().find(b.says) != std::string::npos, r.error().str());
    }
    auto h = parse_options({"--help"});
    REQUIRE(h);
    CHECK(h->help);
}
