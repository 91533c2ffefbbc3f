// Fuzzes avpn-registry's packet parsing and state (plugins/registry): any
// datagram a stranger can send to a registry, or to a site's registry
// client. Nothing may crash or leak. The first input byte picks a mode:
// bit 0 recomputes mac1 (anyone can, it is keyed by a public key) so
// inputs reach the Noise code behind it; bit 1 feeds the input to a server
// that holds a live session of a fixed site first, with the input's
// receiver index pointed at it, so the replay window and AEAD run; bit 2
// decodes the input as a body of every kind.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "plugins/registry/client.hpp"
#include "plugins/registry/server.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace avpn;
using namespace avpn::registry;
using avpn::fuzz::fixed_key;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    Bytes d(data + 1, data + size);
    static const Key32 registry_static = fixed_key(0x20), site_static = fixed_key(0x00);
    static const Key32 registry_public = *crypto::public_key(registry_static);
    static const Key32 site_public = *crypto::public_key(site_static);
    const Time now = fuzz::kNow;
    const Endpoint from = fuzz::kFrom;

    (void)keying::peek_type(d);
    if (mode & 4) {
        (void)peek_kind(d);
        (void)decode_register(d);
        (void)decode_registered(d);
        (void)decode_query(d);
        (void)decode_contacts(d);
        (void)decode_filter_answer(d);
        (void)decode_filter_probe(d);
        (void)decode_initiation_payload(d);
    }
    if ((mode & 1) && (d.size() == kInitiationLen || d.size() == kResponseLen))
        fuzz::make_mac1_valid(d, d.size() == kResponseLen ? site_public : registry_public);

    ServerConfig sc;
    sc.static_private = registry_static;
    sc.groups = {GroupMembers{"corp", {}, {site_public, fixed_key(0x40)}}};
    sc.under_load_threshold = size_t(mode >> 4) + 1;
    auto server = Server::create(std::move(sc));

    ClientConfig cc;
    cc.site_private = site_static;
    cc.registry_public = registry_public;
    cc.group = "corp";
    auto client = Client::create(cc);
    auto init = client->tick(now, keying::tai64n_from_unix(1764892800, 0), fixed_key(0x60));

    if (mode & 2) {  // a live session first, then the input on its index
        auto resp = server->on_datagram((*init)[0], from, now, fixed_key(0x80));
        if (resp) {
            auto back = client->on_datagram((*resp)[0].datagram, now);
            if (back)
                for (const Bytes& b : *back) (void)server->on_datagram(b, from, now);
            const Bytes& r = (*resp)[0].datagram;  // the registry's index is bytes 8-11 of its response
            if (d.size() >= 12 && d[4] == uint8_t(MessageType::transport)) std::copy_n(r.begin() + 8, 4, d.begin() + 8);
        }
    }
    (void)server->on_datagram(d, from, now);
    (void)server->tick(now + std::chrono::seconds(mode & 0x80 ? 61 : 1));
    (void)client->on_datagram(d, now);
    return 0;
}
