// One SA read back by its id (XFRM_MSG_GETSA), and which changes
// XFRM_MSG_UPDSA really makes: the reconciler replaces an SA for the rest.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "netlink/transact.hpp"
#include "netlink/xfrm.hpp"
#include "netlink/xfrm_wire.hpp"

namespace avpn::nl {

using namespace xfrm_wire;

Result<XfrmSa> get_sa(Transport& t, const XfrmSa& id) {
    if (id.src.family != id.dst.family) return Error{"get xfrm sa", sa_name(id), "outer addresses of two families"};
    std::optional<XfrmSa> found;
    Status st = run_query(
        t, "get xfrm sa", sa_name(id), XFRM_MSG_GETSA, 0,
        [&](MsgWriter& w) {
            if (auto* p = w.put_fixed<xfrm_usersa_id>()) {
                p->daddr = to_wire(id.dst);
                p->spi = htonl(id.spi);
                p->family = uint16_t(id.dst.af());
                p->proto = IPPROTO_ESP;
            }
            put_mark(w, id.mark);
        },
        [&](const nlmsghdr* h) -> Status {
            if (h->nlmsg_type != XFRM_MSG_NEWSA) return {};
            auto sa = parse_sa(h);
            if (!sa) return sa.error();
            found = std::move(*sa);
            return {};
        });
    if (!st) return st.error();
    if (!found) return Error{"get xfrm sa", sa_name(id), "the kernel answered without the SA"};
    return std::move(*found);
}

// xfrm_state_update() copies into the installed state only the lifetime
// limits, the encapsulation (ports; not its presence or type), the output
// mark and a non-zero if_id, and acknowledges everything else unchanged.
bool sa_updatable(const XfrmSa& want, const XfrmSa& have) {
    if (bool(want.encap_sport || want.encap_dport) != bool(have.encap_sport || have.encap_dport)) return false;
    if (!want.if_id && have.if_id) return false;
    XfrmSa after = have;
    after.key = want.key;  // not the kernel's: a dump cannot tell where a key came from
    after.soft_bytes = want.soft_bytes;
    after.hard_bytes = want.hard_bytes;
    after.soft_packets = want.soft_packets;
    after.hard_packets = want.hard_packets;
    after.soft_seconds = want.soft_seconds;
    after.hard_seconds = want.hard_seconds;
    after.encap_sport = want.encap_sport;
    after.encap_dport = want.encap_dport;
    after.if_id = want.if_id;
    return after == want;
}

}  // namespace avpn::nl
