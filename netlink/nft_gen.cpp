#include "netlink/nft_gen.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <optional>

#include "netlink/transact.hpp"

namespace avpn::nl {

Result<uint32_t> nftables_generation(Transport& nfnl) {
    const char* what = "read the nftables generation";
    std::optional<uint32_t> id;
    Status st = run_query(
        nfnl, what, "NFT_MSG_GETGEN", uint16_t(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN), 0,
        [](MsgWriter& w) {
            if (auto* g = w.put_fixed<nfgenmsg>()) {
                g->nfgen_family = AF_UNSPEC;
                g->version = NFNETLINK_V0;
                g->res_id = 0;
            }
        },
        [&](const nlmsghdr* h) -> Status {
            AttrTable<NFTA_GEN_MAX + 1> t{};
            if (auto msg = read_message<nfgenmsg>(h, t, what); !msg) return msg.error();
            // nftables' attributes are in network byte order.
            if (auto v = t[NFTA_GEN_ID].u32()) id = ntohl(*v);
            return {};
        });
    if (!st) return st.error();
    if (!id) return Error{what, "NFT_MSG_GETGEN", "no NFTA_GEN_ID in the kernel's reply"};
    return *id;
}

}  // namespace avpn::nl
