#include "plugins/registry/session.hpp"

namespace avpn::registry {

Result<Bytes> TransportSession::seal(ByteView body) {
    // A counter is used once under a key: the nonce never repeats.
    if (next_send >= kRejectAfterMessages) return Error{"registry transport", "", "counter exhausted: handshake again"};
    return seal_transport(remote_index, next_send++, send_key.get(), body);
}

Result<Bytes> TransportSession::open(ByteView datagram, const Transport& t) {
    if (t.receiver != local_index) return Error{"registry transport", "", "for another session"};
    if (t.counter >= kRejectAfterMessages || !window.fresh(t.counter))
        return Error{"registry transport", "", "replayed or too old (counter " + std::to_string(t.counter) + ")", kReplayed};
    auto body = open_transport(datagram, t, receive_key.get());
    if (!body) {
        Error e = body.error();
        e.code = kBadTag;
        return e;
    }
    window.accept(t.counter);
    return body;
}

}  // namespace avpn::registry
