#include "plugins/firewall/nft_table.hpp"

#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include <cerrno>

#include "netlink/nft_counters.hpp"

namespace avpn::fw {
namespace {

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Result<std::unique_ptr<NftTable>> NftTable::open() {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) return Error{"open libnftables context", "table inet avpn", "nft_ctx_new failed", ENOMEM};
    // Buffered, so errors become values instead of lines on avpn's stderr;
    // JSON output, so listings are read with the parser nft writes them for.
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        nft_ctx_free(ctx);
        return Error{"open libnftables context", "table inet avpn", "cannot buffer its output", ENOMEM};
    }
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
    return std::unique_ptr<NftTable>(new NftTable(ctx));
}

NftTable::~NftTable() { nft_ctx_free(ctx_); }

Result<std::string> NftTable::run(const std::string& buffer, std::string_view what) {
    int rc = nft_run_cmd_from_buffer(ctx_, buffer.c_str());
    // Both buffers are read on every run: reading one also empties it, so
    // nothing of this run is left to be taken for the next one's.
    std::string out = trimmed(nft_ctx_get_output_buffer(ctx_));
    std::string err = trimmed(nft_ctx_get_error_buffer(ctx_));
    if (rc != 0) return Error{std::string(what), "table inet avpn", err.empty() ? "libnftables failed" : err};
    return out;
}

Status NftTable::replace(std::string_view contents) {
    auto batch = replace_batch(contents);
    if (!batch) return batch.error();
    if (auto out = run(*batch, "replace nftables table"); !out) return out.error();
    return {};
}

Status NftTable::remove() {
    auto batch = remove_batch();
    if (!batch) return batch.error();
    if (auto out = run(*batch, "remove nftables table"); !out) return out.error();
    return {};
}

Result<bool> NftTable::present() {
    auto out = run("list tables inet", "list nftables tables");
    if (!out) return out.error();
    return has_table(*out);
}

Result<std::string> NftTable::read() { return run("list table inet avpn", "read nftables table"); }

Result<Counters> NftTable::counters() {
    if (!nfnl_) {
        auto s = nl::Socket::open(NETLINK_NETFILTER, {64 << 10, 16 << 10, 2000});
        if (!s) return s.error();
        nfnl_ = std::move(*s);
    }
    auto listed = nl::nftables_counters(*nfnl_, NFPROTO_INET, kOwnedTable);
    if (!listed) {
        nfnl_.reset();  // a fresh socket next time, whatever state this one is in
        return listed.error();
    }
    Counters out;
    for (const nl::NftCounter& c : *listed) out[c.name] = CounterValue{c.packets, c.bytes};
    return out;
}

}  // namespace avpn::fw
