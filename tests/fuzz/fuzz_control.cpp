// Fuzzes avpnd's control protocol decoders (orchestrator/control): any bytes
// a local client sends. Nothing may crash; whatever decodes must encode and
// decode to the same request or reply again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orchestrator/control/protocol.hpp"

using namespace avpn::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    if (auto r = decode_request(in); r.ok()) {
        auto back = decode_request(encode(*r));
        if (!back.ok() || back->command != r->command || back->json != r->json || back->config != r->config ||
            back->settle != r->settle || back->confirm_seconds != r->confirm_seconds || back->listen != r->listen)
            std::abort();
    }
    if (auto r = decode_reply(in); r.ok()) {
        auto back = decode_reply(encode(*r));
        if (!back.ok() || back->exit != r->exit || back->out != r->out || back->err != r->err) std::abort();
    }
    return 0;
}
