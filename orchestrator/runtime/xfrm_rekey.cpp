// avpnctl rekey: the operator's forced rotation of XFRM peers' keys
// (docs/cli.md). Kept apart from xfrm_keying.cpp: it only marks sessions;
// the handshakes themselves run as any rotation does.
#include "orchestrator/runtime/xfrm_keying.hpp"

namespace avpn::runtime {

Result<std::vector<XfrmKeying::Rekeyed>> XfrmKeying::rekey(const std::string& group, const std::string& peer) {
    if (group.empty() && !peer.empty()) return Error{"rekey", peer, "a peer needs its group"};
    if (!group.empty() && !group_named(group)) return Error{"rekey", group, "no XFRM group of that name at this site"};
    if (groups_.empty()) return Error{"rekey", "", "this site has no XFRM group"};
    std::vector<Rekeyed> out;
    for (Group& g : groups_) {
        if (!group.empty() && g.name != group) continue;
        for (Peer& p : g.peers) {
            if (!peer.empty() && p.view.name != peer) continue;
            p.session.rekey_now();
            if (g.path == 0) out.push_back({g.name, p.view.name, p.session.epoch()});  // its paths rotate with it
        }
    }
    if (!peer.empty() && out.empty()) return Error{"rekey", group + "/" + peer, "no peer of that name in the group"};
    return out;
}

}  // namespace avpn::runtime
