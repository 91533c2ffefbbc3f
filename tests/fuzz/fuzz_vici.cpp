// Fuzzes the vici decoder: the bytes are a stream of frames as charon would
// send them (length header + packet). Everything that decodes must re-encode
// and decode to the same tree (the codec is lossless); nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "plugins/vici/packet.hpp"
#include "plugins/vici/text.hpp"

using namespace avpn::vici;

namespace {

void check_round_trip(const Packet& p) {
    auto frame = encode_packet(p);
    if (!frame.ok()) std::abort();  // whatever decoded fits the wire again
    auto back = decode_packet(std::span(*frame).subspan(kFrameHeader));
    if (!back.ok() || !(*back == p)) std::abort();
    (void)to_text(p.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    // The whole input as one message body.
    if (auto m = decode_message(in); m.ok()) {
        auto enc = encode_message(*m);
        if (!enc.ok() || *enc != std::vector<uint8_t>(in.begin(), in.end())) std::abort();
    }
    // The input as a socket stream, fed in uneven chunks.
    FrameReader reader;
    size_t off = 0, chunk = 1;
    while (off < size) {
        const size_t n = std::min(chunk, size - off);
        reader.feed(in.subspan(off, n));
        off += n;
        chunk = chunk * 3 + 1;
        for (;;) {
            auto next = reader.next();
            if (!next.ok() || !*next) break;
            if (auto p = decode_packet(**next); p.ok()) check_round_trip(*p);
        }
        if (!reader.next().ok()) break;
    }
    return 0;
}
