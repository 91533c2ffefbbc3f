// bench_firewall_plan: the firewall planner and its JSON renderer for a hub
// with 10,000 spokes (four /24 VLANs each) and 20 [[firewall]] rules: time
// (median of 7), rules, set sizes and the size of the libnftables document.
// Prints figures; never fails on a time. What it shows: the rule count is the
// rules' own (at most two per [[firewall]] rule), the members only grow sets.
// As root, also the kernel side in a private network namespace (unshare):
// installing that table with NftTable::replace (one libnftables
// transaction, cold and over itself), the unchanged-table check an apply
// makes instead (read + normalize), undoing to the previous table, remove.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "orchestrator/plan/firewall_json.hpp"
#include "orchestrator/plan/firewall_plan.hpp"
#include "orchestrator/plan/planner.hpp"
#include "netlink/nft_gen.hpp"
#include "plugins/firewall/nft_table.hpp"
#include "world.hpp"

#include <sched.h>
#include <unistd.h>

namespace {

using namespace avpn;
using Clock = std::chrono::steady_clock;

constexpr int kRuns = 7;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// 20 rules of every reference kind, as a large hub's policy might read.
std::vector<FwRule> twenty_rules() {
    std::vector<FwRule> out;
    const char* protocols[] = {"tcp", "udp", "icmp", "any"};
    for (int i = 0; i < 20; ++i) {
        FwRule r;
        r.action = i % 5 == 4 ? FwAction::deny : FwAction::allow;
        r.from = i % 3 == 0 ? "vlan:vlan0" : i % 3 == 1 ? "site:s" + std::to_string(i * 97) : "any";
        r.to = i % 3 == 0 ? (i % 2 ? "any" : "site:s" + std::to_string(i * 31)) : i % 3 == 1 ? "vlan:vlan0" : "10.255.0.0/24";
        r.protocol = protocols[i % 4];
        if (r.protocol == "tcp" || r.protocol == "udp") r.ports = {uint16_t(1000 + i), 443};
        r.loc = {"site.toml", 100 + 5 * i, 1};
        out.push_back(r);
    }
    return out;
}

}  // namespace

int main() {
    const size_t spokes = 10000;
    test::World w = test::hub_and_spokes(spokes, 4, Transport::wireguard);
    Intent intent = w.intent_for("hub");
    intent.firewall = twenty_rules();
    PlanOutcome plan_out = plan(intent, w.inputs_for("hub"));
    if (!plan_out.ok()) {
        for (const Error& e : plan_out.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
        return 1;
    }
    // The planner's own input: every spoke's exports and tunnel address.
    std::vector<fw::PeerSite> peers;
    for (const PeerPlan& p : plan_out.state.peers)
        for (const Member& m : intent.groups[0].members)
            if (m.name == p.site) peers.push_back({m.name, m.exports, p.tunnel_address});
    std::vector<double> plan_ms, json_ms;
    fw::FirewallTable table;
    std::string json;
    for (int i = 0; i < kRuns; ++i) {
        Errors errors;
        auto t0 = Clock::now();
        table = fw::plan_firewall(intent, peers, errors);
        plan_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        json = fw::render_firewall_json(table);
        json_ms.push_back(ms_since(t0));
        if (!errors.empty()) return std::fprintf(stderr, "%s\n", errors[0].str().c_str()), 1;
    }
    std::printf("hub, %zu spokes x 4 VLANs, %zu [[firewall]] rules\n", spokes, intent.firewall.size());
    std::printf("  plan_firewall  %8.2f ms (median of %d)\n", median(plan_ms), kRuns);
    std::printf("  render JSON    %8.2f ms, %zu bytes\n", median(json_ms), json.size());
    std::printf("  chain forward  %zu rules; chain rules %zu rules; %zu counters\n", table.forward.size(),
                table.rules.size(), table.counters.size());
    size_t elements = 0;
    for (const fw::Set& s : table.sets) elements += s.elements.size();
    std::printf("  %zu sets, %zu elements:", table.sets.size(), elements);
    for (const fw::Set& s : table.sets) std::printf(" %s=%zu", s.name.c_str(), s.elements.size());
    std::printf("\n");

    if (::geteuid() != 0) return std::printf("  kernel: skipped (not root)\n"), 0;
    if (::unshare(CLONE_NEWNET) != 0) return std::printf("  kernel: skipped (unshare(CLONE_NEWNET) failed)\n"), 0;
    auto nft = fw::NftTable::open();
    if (!nft) return std::fprintf(stderr, "%s\n", nft.error().str().c_str()), 1;
    fw::TablePort& t = **nft;
    auto nfnl = nl::Socket::open(NETLINK_NETFILTER);
    if (!nfnl) return std::fprintf(stderr, "%s\n", nfnl.error().str().c_str()), 1;
    std::vector<double> cold_ms, over_ms, list_ms, read_ms, gen_ms, restore_ms, remove_ms;
    size_t listing_bytes = 0;
    for (int i = 0; i < kRuns; ++i) {
        auto t0 = Clock::now();
        if (Status st = t.replace(json); !st) return std::fprintf(stderr, "%s\n", st.error().str().c_str()), 1;
        cold_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        if (Status st = t.replace(json); !st) return std::fprintf(stderr, "%s\n", st.error().str().c_str()), 1;
        over_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        auto listing = t.read();
        if (!listing) return std::fprintf(stderr, "%s\n", listing.error().str().c_str()), 1;
        list_ms.push_back(ms_since(t0));
        auto normalized = fw::normalized_listing(*listing);
        auto previous = fw::contents_of_listing(*listing);
        if (!normalized || !previous) return std::fprintf(stderr, "cannot read the listing back\n"), 1;
        read_ms.push_back(ms_since(t0));
        listing_bytes = listing->size();
        // What avpnd's drift poll pays instead of the read while nothing
        // changed (Site::firewall_drift): the ruleset's generation.
        t0 = Clock::now();
        if (auto g = nl::nftables_generation(*nfnl); !g) return std::fprintf(stderr, "%s\n", g.error().str().c_str()), 1;
        gen_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        if (Status st = t.replace(*previous); !st) return std::fprintf(stderr, "%s\n", st.error().str().c_str()), 1;
        restore_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        if (Status st = t.remove(); !st) return std::fprintf(stderr, "%s\n", st.error().str().c_str()), 1;
        remove_ms.push_back(ms_since(t0));
    }
    std::printf("  kernel (private netns, median of %d):\n", kRuns);
    std::printf("    replace, no table before   %8.1f ms\n", median(cold_ms));
    std::printf("    replace over the same      %8.1f ms\n", median(over_ms));
    std::printf("    read (nft's JSON listing)  %8.1f ms, %zu bytes\n", median(list_ms), listing_bytes);
    std::printf("    read + normalize + undo doc%8.1f ms\n", median(read_ms));
    std::printf("    generation (unchanged poll)%8.3f ms\n", median(gen_ms));
    std::printf("    undo: replace from listing %8.1f ms\n", median(restore_ms));
    std::printf("    remove                     %8.1f ms\n", median(remove_ms));
    return 0;
}
