// avpn's nftables table, inet avpn, in the kernel of the caller's network
// namespace. TablePort is the seam the apply path holds (the plan's model of
// the table is fw::FirewallTable, orchestrator/plan); NftTable is
// the one implementation, through libnftables (docs/firewall.md, "The kernel
// side"). Nothing here touches any other table: the contents are checked
// (nft_batch.hpp) and every command names inet avpn.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "netlink/socket.hpp"
#include "plugins/firewall/nft_batch.hpp"

struct nft_ctx;

namespace avpn::fw {

class TablePort {
public:
    virtual ~TablePort() = default;
    // Table inet avpn becomes exactly `contents` (a JSON array of add
    // commands inside it), in one transaction: on any error the table is
    // as it was before the call.
    virtual Status replace(std::string_view contents) = 0;
    // Deletes table inet avpn if it exists; nothing else.
    virtual Status remove() = 0;
    virtual Result<bool> present() = 0;
    // `list table inet avpn` as nft prints it in JSON (handles included),
    // for drift checks.
    virtual Result<std::string> read() = 0;
    // The named counters of table inet avpn; none when it does not exist.
    virtual Result<Counters> counters() = 0;
};

class NftTable final : public TablePort {
public:
    static Result<std::unique_ptr<NftTable>> open();
    ~NftTable() override;
    NftTable(const NftTable&) = delete;
    NftTable& operator=(const NftTable&) = delete;

    Status replace(std::string_view contents) override;
    Status remove() override;
    Result<bool> present() override;
    Result<std::string> read() override;
    Result<Counters> counters() override;

private:
    explicit NftTable(nft_ctx* ctx) : ctx_(ctx) {}
    // Runs one libnftables command buffer (one transaction); its JSON output,
    // or an Error naming `what` with libnftables' error text.
    Result<std::string> run(const std::string& buffer, std::string_view what);

    nft_ctx* ctx_;
    // The counters are read over nfnetlink (netlink/nft_counters.hpp), not
    // libnftables, which lists every set element first; opened at the first read.
    std::optional<nl::Socket> nfnl_;
};

}  // namespace avpn::fw
