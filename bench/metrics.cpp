// bench_metrics: what one metrics scrape costs avpnd's loop at a hub with
// 10,000 spokes (and 2,000 for scale), from a synthetic in-memory state: the
// peer rows from the committed pieces (peer_directory), the WireGuard
// counters joined in (as the last poll left them), and the exposition
// rendered (metrics.hpp). That is everything the scrape does besides a few
// non-blocking writes. Median of 7; also the body size. Prints figures;
// never fails on a time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "orchestrator/plan/site_pieces.hpp"
#include "orchestrator/runtime/metrics.hpp"
#include "orchestrator/runtime/peer_directory.hpp"
#include "world.hpp"

namespace {

using namespace avpn;
using Clock = std::chrono::steady_clock;

constexpr int kRuns = 7;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int run(size_t spokes) {
    test::World w = test::hub_and_spokes(spokes, 4, Transport::wireguard);
    Intent intent = w.intent_for("hub");
    planner::SitePieces pieces = planner::decide(intent, w.inputs_for("hub"));
    if (!pieces.errors.empty()) {
        for (const Error& e : pieces.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
        return 1;
    }
    // Every peer with a handshake and traffic, as a busy hub's poll reads them.
    std::map<std::string, wg::WgDeviceStatus> devices;
    for (const planner::GroupPieces& g : pieces.groups) {
        wg::WgDeviceStatus& d = devices[g.constants.interface];
        for (const planner::PeerInput& p : g.peers)
            d.peers.push_back(wg::WgPeerStats{p.public_key, 1'700'000'000, 0, 123'456'789'012, 98'765'432'109});
        std::sort(d.peers.begin(), d.peers.end(), [](auto& a, auto& b) { return a.public_key < b.public_key; });
    }
    std::vector<double> rows_ms, render_ms, total_ms;
    size_t body = 0, series = 0;
    for (int i = 0; i < kRuns; ++i) {
        auto t0 = Clock::now();
        runtime::MetricsSnapshot s;
        s.site = "hub";
        s.now = 1'700'000'100;
        s.peers = runtime::peer_rows(intent, pieces);
        runtime::add_wireguard(s.peers, devices);
        rows_ms.push_back(ms_since(t0));
        auto t1 = Clock::now();
        std::string text = runtime::render_metrics(s);
        render_ms.push_back(ms_since(t1));
        total_ms.push_back(ms_since(t0));
        body = text.size();
        series = size_t(std::count(text.begin(), text.end(), '\n'));
    }
    std::printf("%6zu spokes: scrape %.1f ms (peer rows %.1f ms, render %.1f ms), body %.2f MiB, %zu lines\n", spokes,
                median(total_ms), median(rows_ms), median(render_ms), double(body) / (1024 * 1024), series);
    return 0;
}

}  // namespace

int main() {
    std::printf("bench_metrics: one scrape from memory, median of %d\n", kRuns);
    for (size_t n : {size_t(2000), size_t(10000)})
        if (int rc = run(n)) return rc;
    return 0;
}
