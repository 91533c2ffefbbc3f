// A registry server and sites' clients wired together in memory: the
// datagrams are the real ones, only the network between them is a function
// call (the real-process test, registry_process_test.cpp, uses UDP).
#pragma once

#include <doctest/doctest.h>

#include "plugins/registry/client.hpp"
#include "plugins/registry/server.hpp"

namespace avpn::registry::test {

inline Key32 key_of(uint8_t seed) {
    Key32 k;
    for (size_t i = 0; i < 32; ++i) k[i] = uint8_t(seed * 7 + i);
    return k;
}
inline Key32 pub_of(uint8_t seed) { return *crypto::public_key(key_of(seed)); }

inline Endpoint ep(const char* text) { return *Endpoint::parse(text); }

struct Site {
    Client client;
    Endpoint from;  // the address the registry sees (the NAT's mapping)
    // Whether the site's NAT lets in a datagram from an endpoint the site
    // never sent to: the registry's filtering probe (from its alternate).
    bool nat_permissive = false;
};

struct Harness {
    Server server;
    Time now = Time{} + std::chrono::hours(1);
    uint64_t wall_seconds = 1764892800;

    static constexpr uint8_t kRegistrySeed = 200;

    // Group "corp": sites 1..4 (psk_seed 0: no group key); group "lab": 10, 11.
    static Harness make(ServerConfig c = {}, uint8_t corp_psk_seed = 0) {
        c.static_private = key_of(kRegistrySeed);
        if (c.groups.empty()) {
            GroupMembers corp{"corp", corp_psk_seed ? key_of(corp_psk_seed) : Key32{}, {pub_of(1), pub_of(2), pub_of(3), pub_of(4)}};
            GroupMembers lab{"lab", {}, {pub_of(10), pub_of(11)}};
            c.groups = {corp, lab};
        }
        auto s = Server::create(std::move(c));
        REQUIRE_MESSAGE(s, s.error().str());
        return Harness{std::move(*s)};
    }

    Site site(uint8_t seed, const std::string& group, const char* from, uint8_t psk_seed = 0,
              std::optional<Key32> registry_public = std::nullopt) {
        ClientConfig c;
        c.site_private = key_of(seed);
        c.registry_public = registry_public ? *registry_public : pub_of(kRegistrySeed);
        c.group = group;
        if (psk_seed) c.psk = key_of(psk_seed);
        c.seed = seed;
        auto cl = Client::create(c);
        REQUIRE_MESSAGE(cl, cl.error().str());
        return Site{std::move(*cl), ep(from)};
    }

    Tai64n wall() { return keying::tai64n_from_unix(++wall_seconds, 0); }

    // Delivers `out` from `s` to the server and everything the server sends
    // back to the sites it is addressed to, until nothing moves. Returns the
    // server's rejections.
    std::vector<Error> deliver(std::vector<Site*> sites, Site& s, std::vector<Bytes> out) {
        std::vector<Error> rejections;
        std::vector<std::pair<Site*, Bytes>> queue;
        for (auto& b : out) queue.emplace_back(&s, std::move(b));
        while (!queue.empty()) {
            auto [from, bytes] = std::move(queue.front());
            queue.erase(queue.begin());
            auto replies = server.on_datagram(bytes, from->from, now);
            if (!replies) {
                rejections.push_back(replies.error());
                continue;
            }
            route(sites, *replies, queue);
        }
        return rejections;
    }
    void route(std::vector<Site*> sites, const std::vector<Outgoing>& replies, std::vector<std::pair<Site*, Bytes>>& queue) {
        for (const Outgoing& o : replies)
            for (Site* t : sites)
                if (t->from == o.to && o.from_alternate) {
                    if (t->nat_permissive) t->client.try_probe(o.datagram);
                } else if (t->from == o.to) {
                    auto back = t->client.on_datagram(o.datagram, now);
                    if (back)
                        for (auto& b : *back) queue.emplace_back(t, std::move(b));
                }
    }
    // One tick of `s`, delivered.
    std::vector<Error> tick(std::vector<Site*> sites, Site& s) {
        auto out = s.client.tick(now, wall());
        REQUIRE_MESSAGE(out, out.error().str());
        return deliver(sites, s, std::move(*out));
    }
};

}  // namespace avpn::registry::test
