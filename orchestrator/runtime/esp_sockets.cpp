#include "orchestrator/runtime/esp_sockets.hpp"

#include <errno.h>

#include <algorithm>

namespace avpn::runtime {

std::vector<EspSocketWant> esp_sockets_of(const Intent& intent) {
    std::vector<EspSocketWant> out;
    for (const Group& g : intent.groups) {
        if (g.transport != Transport::xfrm) continue;
        bool v6 = g.self_contact && g.self_contact->addr.family == Family::v6;
        for (const Member& m : g.members) v6 = v6 || (m.contact && m.contact->addr.family == Family::v6);
        for (uint32_t path = 0; path < most_paths(g) && g.listen_port + path <= 65535; ++path) {
            const uint16_t port = uint16_t(g.listen_port + path);
            out.push_back({g.name, port, Family::v4, g.loc.str(), uint8_t(path)});
            if (v6) out.push_back({g.name, port, Family::v6, g.loc.str(), uint8_t(path)});
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string describe(const EspSocketWant& s) {
    return "UDP port " + std::to_string(s.port) + " (" + keying::family_name(s.family) + ") of group \"" + s.group +
           "\"" + (s.path ? " (path " + std::to_string(s.path) + ")" : "");
}

Status EspSockets::open(const std::vector<EspSocketWant>& want) {
    std::vector<EspSocketWant> opened;
    for (const EspSocketWant& w : want) {
        if (held_.count(w)) continue;
        auto s = keying::EspSocket::open(w.family, w.port);
        if (!s) {
            for (const EspSocketWant& o : opened) held_.erase(o);
            std::string why = s.error().why;
            if (s.error().code == EADDRINUSE)
                why += ": another socket holds the port (ss -uanp 'sport = :" + std::to_string(w.port) +
                       "' names it); free it or give the group another listen_port";
            return Error{"group \"" + w.group + "\" (transport = \"xfrm\"): " + s.error().what + " on UDP port " +
                             std::to_string(w.port) + " (" + keying::family_name(w.family) + ")",
                         w.where, why, s.error().code};
        }
        held_.emplace(w, std::move(*s));
        opened.push_back(w);
    }
    return {};
}

void EspSockets::keep_only(const std::vector<EspSocketWant>& want) {
    for (auto it = held_.begin(); it != held_.end();) {
        if (std::binary_search(want.begin(), want.end(), it->first)) ++it;
        else it = held_.erase(it);
    }
}

std::vector<EspSocketWant> EspSockets::held() const {
    std::vector<EspSocketWant> out;
    for (const auto& [w, s] : held_) out.push_back(w);
    return out;
}

}  // namespace avpn::runtime
