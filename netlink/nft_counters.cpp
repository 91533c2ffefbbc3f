#include "netlink/nft_counters.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "netlink/transact.hpp"

namespace avpn::nl {

Result<std::vector<NftCounter>> nftables_counters(Transport& nfnl, uint8_t family, std::string_view table) {
    const char* what = "read nftables counters";
    DumpRequest req;
    req.what = what;
    req.where = "table " + std::string(table);
    req.type = uint16_t(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETOBJ);
    req.fill = [&](MsgWriter& w) {
        if (auto* g = w.put_fixed<nfgenmsg>()) {
            g->nfgen_family = family;
            g->version = NFNETLINK_V0;
            g->res_id = 0;
        }
        w.put_str(NFTA_OBJ_TABLE, table);
        w.put_u32(NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
    };
    return collect_dump<NftCounter>(nfnl, std::move(req), [&](const nlmsghdr* h, std::vector<NftCounter>& out) -> Status {
        AttrTable<NFTA_OBJ_MAX + 1> t{};
        if (auto msg = read_message<nfgenmsg>(h, t, what); !msg) return msg.error();
        // The kernel filters; a kernel that did not would send other
        // tables' objects and other types: checked again.
        auto name = t[NFTA_OBJ_NAME].str();
        auto in_table = t[NFTA_OBJ_TABLE].str();
        auto type = t[NFTA_OBJ_TYPE].u32();
        if (!name || !in_table || *in_table != table || !type || ntohl(*type) != NFT_OBJECT_COUNTER) return {};
        AttrTable<NFTA_COUNTER_MAX + 1> c{};
        if (!parse_attrs(t[NFTA_OBJ_DATA].data, c)) return Error{what, std::string(*name), "malformed counter data"};
        auto bytes = c[NFTA_COUNTER_BYTES].u64();
        auto packets = c[NFTA_COUNTER_PACKETS].u64();
        if (!bytes || !packets) return Error{what, std::string(*name), "no packets or bytes in the kernel's reply"};
        // nftables' attributes are in network byte order.
        out.push_back(NftCounter{std::string(*name), be64toh(*packets), be64toh(*bytes)});
        return {};
    });
}

}  // namespace avpn::nl
