// Prints one registry exchange with fixed keys as "name hex" lines: the
// inputs (statics, ephemerals, prologue, group key, payload), the
// initiation and response, and the first transport message each way.
// dissononce_check.py recomputes the Noise parts with python3-dissononce
// and opens the transport messages with the split keys it derives.
#include <cstdio>

#include "plugins/registry/client.hpp"
#include "plugins/registry/server.hpp"

using namespace avpn;
using namespace avpn::registry;

namespace {
Key32 fixed(uint8_t first) {
    Key32 k;
    for (size_t i = 0; i < 32; ++i) k[i] = uint8_t(first + 3 * i);
    return k;
}
void line(const char* name, ByteView b) {
    std::printf("%s ", name);
    for (uint8_t x : b) std::printf("%02x", x);
    std::printf("\n");
}
int fail(const Error& e) {
    std::fprintf(stderr, "registry_print_vectors: %s\n", e.str().c_str());
    return 1;
}
}  // namespace

int main() {
    const Key32 site = fixed(0x01), registry = fixed(0x40), psk = fixed(0x80);
    const Key32 site_e = fixed(0x11), registry_e = fixed(0x51);
    const Tai64n ts = keying::tai64n_from_unix(1764892800, 0);
    const Time now = Time{} + std::chrono::hours(1);
    const Endpoint from = *Endpoint::parse("198.51.100.7:40000");

    ServerConfig sc;
    sc.static_private = registry;
    sc.groups = {GroupMembers{"corp", psk, {*crypto::public_key(site)}}};
    auto server = Server::create(std::move(sc));
    if (!server) return fail(server.error());
    ClientConfig cc;
    cc.site_private = site;
    cc.registry_public = *crypto::public_key(registry);
    cc.group = "corp";
    cc.psk = psk;
    auto client = Client::create(cc);
    if (!client) return fail(client.error());

    auto init = client->tick(now, ts, site_e);
    if (!init) return fail(init.error());
    auto resp = server->on_datagram((*init)[0], from, now, registry_e);
    if (!resp) return fail(resp.error());
    auto reg = client->on_datagram((*resp)[0].datagram, now);
    if (!reg) return fail(reg.error());
    auto registered = server->on_datagram((*reg)[0], from, now);
    if (!registered) return fail(registered.error());

    line("prologue", keying::view("avpn registry v1"));
    line("psk", psk);
    line("initiator_static", site);
    line("responder_static", registry);
    line("initiator_ephemeral", site_e);
    line("responder_ephemeral", registry_e);
    line("payload1", *encode(InitiationPayload{ts, "corp"}));
    line("initiation", (*init)[0]);
    line("response", (*resp)[0].datagram);
    line("registration", (*reg)[0]);
    line("registered", (*registered)[0].datagram);
    line("registration_body", encode(Register{}));
    line("registered_body", encode(Registered{from, 60}));
    return 0;
}
