// bench_plan: wall time and peak memory of plan() for a hub with 2,000 and
// 10,000 spokes (four /24 VLANs each), WireGuard and XFRM, plus the spoke
// side of the 10,000-site group. Each case runs in its own child process so
// its peak RSS (getrusage ru_maxrss) is its own. Prints figures; never fails
// on a time. Target: 10,000 spokes under 0.5 s and 256 MB.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "child.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/plan/planner.hpp"
#include "world.hpp"

namespace {

using namespace avpn;

constexpr int kRuns = 7;
constexpr size_t kVlans = 4;

struct Case {
    size_t spokes;
    Transport transport;
    const char* site;  // "hub" or a spoke name
};

struct Figures {
    double median_ms = 0;
    double min_ms = 0;
    long input_rss_kb = 0;  // after building the Intent, before planning
    size_t objects = 0;     // kernel objects in the plan
    double incremental_ms = 0;  // IncrementalPlanner update + commit after one spoke changed (median)
    size_t incremental_objects = 0;  // objects in that update's want + was
    double incremental_nofw_ms = 0;  // the same after a change the firewall does not read (median)
    bool ok = false;
};

size_t count_objects(const DesiredState& s) {
    size_t n = s.links.size() + s.addresses.size() + s.xfrm_states.size() + s.xfrm_policies.size() +
               s.routes.size() + s.rules.size();
    for (const nl::WgDevice& d : s.wireguard) n += 1 + d.peers.size();
    return n;
}

long rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

// The daemon's path: the planner holds the last plan; one spoke (not the
// planning site) changes and the update is emitted and committed. `change`
// makes run i's change to that spoke's member-list entry.
template <class Change>
double measure_incremental(const Case& c, Intent& intent, const PlanInputs& inputs, size_t& objects, Change change) {
    IncrementalPlanner planner;
    planner.commit(planner.update(intent, inputs));
    std::string changed = std::string(c.site) == "hub" ? "s" + std::to_string(c.spokes / 2) : "s1";
    Member* m = nullptr;
    for (Member& x : intent.groups.front().members)
        if (x.name == changed) m = &x;
    if (!m) return -1;
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
        change(*m, i);
        auto t0 = std::chrono::steady_clock::now();
        auto u = planner.update(intent, inputs);
        if (u.full) return -1;
        objects = u.want.routes.size() + u.want.xfrm_policies.size() + u.want.xfrm_states.size() +
                  u.was.routes.size() + u.was.xfrm_policies.size() + u.was.xfrm_states.size();
        planner.commit(std::move(u));
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// A VLAN moves: the firewall's peer sets change, so it is planned again.
void move_vlan(Member& m, int i) { m.exports[1] = Prefix{IpAddr::v4((11u << 24) | (7u << 16) | uint32_t(i) << 8), 24}; }

// The contact moves: nothing the firewall reads, so its last table is reused.
void move_contact(Member& m, int i) { m.contact = Endpoint{IpAddr::v4((203u << 24) | (113u << 8) | uint32_t(i)), 4500}; }

Figures measure(const Case& c) {
    Figures f;
    Intent intent;
    PlanInputs inputs;
    {
        test::World w = test::hub_and_spokes(c.spokes, kVlans, c.transport);
        intent = w.intent_for(c.site);
        inputs = w.inputs_for(c.site);
    }
    f.input_rss_kb = rss_kb();
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        PlanOutcome out = plan(intent, inputs);
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        f.ok = out.ok();
        f.objects = count_objects(out.state);
    }
    std::sort(ms.begin(), ms.end());
    f.median_ms = ms[ms.size() / 2];
    f.min_ms = ms.front();
    f.incremental_ms = measure_incremental(c, intent, inputs, f.incremental_objects, move_vlan);
    size_t unused = 0;
    f.incremental_nofw_ms = measure_incremental(c, intent, inputs, unused, move_contact);
    return f;
}

// Runs one case in a child; returns its figures and the child's peak RSS.
bool run_isolated(const Case& c, Figures& f, long& peak_kb) {
    return bench::measure_in_child([&] { return measure(c); }, f, peak_kb);
}

}  // namespace

int main() {
    const Case cases[] = {
        {2000, Transport::wireguard, "hub"},  {2000, Transport::xfrm, "hub"},
        {10000, Transport::wireguard, "hub"}, {10000, Transport::xfrm, "hub"},
        {10000, Transport::wireguard, "s0"},
    };
    std::printf("bench_plan: plan() of one site, median of %d runs (min), peak RSS of the process;\n"
                "incr_ms: IncrementalPlanner update + commit after one other spoke moved a VLAN (median);\n"
                "incr_nofw_ms: the same after it moved its contact, which leaves the firewall table as it was\n", kRuns);
    std::printf("%-8s %-10s %-5s %10s %10s %9s %12s %12s %10s %13s\n", "spokes", "transport", "site", "median_ms",
                "min_ms", "objects", "input_MB", "peak_MB", "incr_ms", "incr_nofw_ms");
    int failures = 0;
    for (const Case& c : cases) {
        Figures f;
        long peak = 0;
        if (!run_isolated(c, f, peak) || !f.ok) {
            std::printf("%-8zu %-10s %-5s  failed to plan\n", c.spokes,
                        std::string(to_string(c.transport)).c_str(), c.site);
            ++failures;
            continue;
        }
        std::printf("%-8zu %-10s %-5s %10.1f %10.1f %9zu %12.1f %12.1f %10.1f %13.1f\n", c.spokes,
                    std::string(to_string(c.transport)).c_str(), c.site, f.median_ms, f.min_ms, f.objects,
                    double(f.input_rss_kb) / 1024.0, double(peak) / 1024.0, f.incremental_ms,
                    f.incremental_nofw_ms);
    }
    return failures == 0 ? 0 : 1;
}
