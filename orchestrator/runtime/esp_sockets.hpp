// The ESP-in-UDP sockets of a site's XFRM groups (plugins/keying/
// esp_socket.hpp), a resource of the site runtime: avpnd holds one per
// group and family on the group's listen port from the converge that first
// plans the group until the one that drops it (reload, apply of another
// file) or `down`, across every converge in between. Without it the kernel
// answers the peers' ESP-in-UDP with port unreachable, which is why a
// one-shot `avpnctl apply` refuses an XFRM group (load.hpp, LoadFor).
//
// Sockets are opened before the kernel is written, so a port someone else
// holds fails the apply with nothing changed; sockets a failed apply opened
// are closed again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/result.hpp"
#include "orchestrator/intent.hpp"
#include "plugins/keying/esp_socket.hpp"

namespace avpn::runtime {

struct EspSocketWant {
    std::string group;
    uint16_t port = 0;
    Family family = Family::v4;
    std::string where;  // the group's file:line:col, for errors
    uint8_t path = 0;   // active-active: path i listens on listen_port + i
    auto key() const { return std::tie(group, port, family); }
    bool operator<(const EspSocketWant& o) const { return key() < o.key(); }
};

// One IPv4 socket per XFRM group, and an IPv6 one too when a member's
// contact (this site's own included) is IPv6: peers send from the family
// of the contact they use. With active_active, as many per group as the
// most paths a member runs (listen_port + i for path i): each path is a key
// exchange and an ESP-in-UDP port of its own.
std::vector<EspSocketWant> esp_sockets_of(const Intent& intent);

class EspSockets {
public:
    // Opens every socket of `want` not held yet. On a failure the sockets
    // this call opened are closed again and the error names the group, its
    // place, the port and the errno (Error.code).
    Status open(const std::vector<EspSocketWant>& want);
    // Closes every held socket not in `want`.
    void keep_only(const std::vector<EspSocketWant>& want);
    void close_all() { held_.clear(); }
    std::vector<EspSocketWant> held() const;
    // The sockets themselves: the key exchange reads and sends on them.
    const std::map<EspSocketWant, keying::EspSocket>& sockets() const { return held_; }
    std::map<EspSocketWant, keying::EspSocket>& sockets() { return held_; }

private:
    std::map<EspSocketWant, keying::EspSocket> held_;
};

// "UDP port 51820 (IPv4) of group \"demo\"", for logs.
std::string describe(const EspSocketWant& s);

}  // namespace avpn::runtime
