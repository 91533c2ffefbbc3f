// Fuzzes the WireGuard UAPI get=1 response parser: the text wireguard-go (or
// any process that owns the socket in /var/run/wireguard) sends back. Fed
// whole and line by line, as the backend reads it; nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/wireguard/uapi_codec.hpp"

using namespace avpn::wg::uapi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_get(text, "wg0");
    GetParser p("wg0");
    while (!text.empty() && !p.done()) {
        size_t nl = text.find('\n');
        if (!p.feed(text.substr(0, nl)).ok()) break;
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    (void)p.finish();
    (void)parse_errno(std::string_view(reinterpret_cast<const char*>(data), size), "wg0");
    return 0;
}
