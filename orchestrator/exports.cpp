#include "orchestrator/exports.hpp"

#include <algorithm>

namespace avpn {

std::vector<Prefix> site_exports(const Intent& intent, const Group& group) {
    std::vector<Prefix> out;
    if (intent.site.role == Role::off) return out;
    auto permitted = [&](const Vlan& v) {
        return std::find(group.permitted_vlans.begin(), group.permitted_vlans.end(), v.name) !=
               group.permitted_vlans.end();
    };
    for (const Vlan& v : intent.vlans) {
        if (!v.shareable) continue;
        if (intent.site.role == Role::spoke && !permitted(v)) continue;
        out.insert(out.end(), v.subnets.begin(), v.subnets.end());
    }
    if (intent.site.role == Role::hub) out.insert(out.end(), group.advertise.begin(), group.advertise.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace avpn
