// bench_apply: cold, incremental and no-op apply of a hub with 2,000 and
// 10,000 spokes (four /24 VLANs each) through the same path as `avpnctl
// apply` (NetlinkPort::open -> interface_addresses -> plan -> apply ->
// NetlinkPort), timed against the same kernel objects written by `ip -batch`
// and `wg setconf` in the same run. Each side runs in a child process with a
// fresh network namespace and a private /run/wireguard (wireguard-go).
//
// Objects: the WireGuard group's link, address, device + peers, routes and
// rules, plus the XFRM policies of the same hub planned with transport xfrm.
// This host kernel takes no ESP SAs and no XFRM interfaces, so from the XFRM
// plan only its policies are kept; both sides write exactly that set, and
// avpn's own diff of the baseline namespace must come out empty.
//
// Prints figures; never fails on a time. Root only (exit 77 otherwise).
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "apply_baseline.hpp"
#include "child.hpp"
#include "common/crypto.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/runtime/scope.hpp"
#include "orchestrator/runtime/wireguard_watch.hpp"
#include "orchestrator/plan/planner.hpp"
#include "orchestrator/reconcile/apply.hpp"
#include "orchestrator/reconcile/diff.hpp"
#include "orchestrator/reconcile/reconciler.hpp"
#include "orchestrator/plan/incremental.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/xfrm.hpp"
#include "orchestrator/ownership.hpp"
#include "plugins/wireguard/backend.hpp"
#include "plugins/wireguard/select.hpp"
#include "world.hpp"

namespace {

using namespace avpn;
using Clock = std::chrono::steady_clock;

constexpr size_t kVlans = 4;
constexpr int kRuns = 5;  // no-op and incremental applies: the median of this many
constexpr const char* kUplink = "wan0";
constexpr const char* kUplinkAddress = "192.0.2.1/24";

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Wraps the real port to time its two kernel-facing calls and count writes.
class TimedPort final : public KernelPort {
public:
    explicit TimedPort(KernelPort& inner) : inner_(inner) {}
    double observe_ms = 0, execute_ms = 0;
    size_t ops_executed = 0;

    Result<nl::KernelState> observe(const OwnedScope& s) override {
        auto t0 = Clock::now();
        auto r = inner_.observe(s);
        observe_ms += ms_since(t0);
        return r;
    }
    std::vector<Status> execute(const std::vector<Op>& ops) override {
        auto t0 = Clock::now();
        auto r = inner_.execute(ops);
        execute_ms += ms_since(t0);
        ops_executed += ops.size();
        return r;
    }
    Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& n) override {
        return inner_.interface_addresses(n);
    }
    Result<OwnedScope> scan_owned() override { return inner_.scan_owned(); }
    Status adopt_journaled(const std::vector<JournaledLink>& l) override { return inner_.adopt_journaled(l); }

private:
    KernelPort& inner_;
};

// Figures one child sends back through a pipe (plain data).
struct ApplyFigures {
    double plan_ms = 0, observe_ms = 0, diff_ms = 0, execute_ms = 0, total_ms = 0;
    size_t ops = 0, executed = 0, peers_changed = 0;
    bool ok = false;
};

struct Figures {
    bool ok = false;
    char error[256] = {};
    // per kind: link, address, wireguard device, peers, routes, rules, policies
    size_t objects[7] = {};
    double baseline_ms[5] = {};  // wireguard-go start, ip -batch rtnl, ip -6 -batch, wg setconf, ip -batch xfrm
    double baseline_total_ms = 0;
    size_t baseline_residual_ops = 0;  // avpn's diff of the baseline namespace: must be 0
    ApplyFigures cold, incremental, noop;
    // The long-lived path (avpnd): IncrementalPlanner + Reconciler's image.
    ApplyFigures daemon_incremental, daemon_noop;
    // Each read observe() makes, alone (median of kRuns): the WireGuard
    // device over UAPI, the route table, the XFRM policies.
    double read_wg_ms = 0, read_routes_ms = 0, read_policies_ms = 0;
    // avpnd's WireGuard drift poll: one device read plus the comparison
    // with the device as applied, and the comparison alone.
    double wg_poll_ms = 0, wg_compare_ms = 0;
    long rss_before_kb = 0;  // after building the input
};

long rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

void fail(Figures& f, const std::string& why) {
    std::snprintf(f.error, sizeof f.error, "%s", why.c_str());
    f.ok = false;
}

// A fresh network namespace with lo and an uplink carrying the hub's
// contact address, and a private /run/wireguard for wireguard-go's sockets.
bool enter_fresh_namespace(Figures& f) {
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) return fail(f, "unshare(CLONE_NEWNET|CLONE_NEWNS) failed"), false;
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail(f, "mount --make-rprivate /"), false;
    ::mkdir("/run/wireguard", 0700);
    if (mount("tmpfs", "/run/wireguard", "tmpfs", 0, "mode=0700") != 0) return fail(f, "tmpfs on /run/wireguard"), false;
    bool ok = bench::run_program({"ip", "link", "set", "lo", "up"}) &&
              bench::run_program({"ip", "link", "add", kUplink, "type", "veth", "peer", "name", "wan0-peer"}) &&
              bench::run_program({"ip", "address", "add", kUplinkAddress, "dev", kUplink}) &&
              bench::run_program({"ip", "link", "set", kUplink, "up"});
    if (!ok) fail(f, "could not set up the uplink " + std::string(kUplink));
    return ok;
}

// wireguard-go lives on after the bench's child exits and so keeps the
// namespace (and its 150,000 policies) alive: deleting its TUN device on the
// way out makes it exit, and the namespace goes with the last process in it.
struct StopWireguardGo {
    ~StopWireguardGo() { bench::run_program({"ip", "link", "del", test::World().group.interface}, true); }
};

// The group, its keys and the two intents (WireGuard, XFRM) of the hub.
struct Hub {
    test::World wg_world, xfrm_world;
    std::vector<std::string> spoke_keys;  // base64 public keys, by spoke index
    std::string key_file, private_key_b64, public_key_b64;

    Intent intent(const test::World& w) const {
        Intent in = w.intent_for("hub");
        in.site.uplinks = {{kUplink, {}}};
        in.site.key_file = key_file;
        in.site.public_key = public_key_b64;
        Group& g = in.groups.front();
        for (Member& m : g.members)
            if (m.name.starts_with("s")) m.public_key = spoke_keys[std::stoul(m.name.substr(1))];
        return in;
    }
};

std::string b64(const crypto::Key32& k) { return crypto::base64_encode(k.data(), k.size()); }

bool make_hub(size_t spokes, const std::string& dir, Hub& h, std::string& why) {
    h.wg_world = test::hub_and_spokes(spokes, kVlans, Transport::wireguard);
    h.xfrm_world = test::hub_and_spokes(spokes, kVlans, Transport::xfrm);
    h.xfrm_world.group.interface = "avpn-x";
    h.spoke_keys.reserve(spokes);
    for (size_t i = 0; i < spokes; ++i) {
        auto sk = crypto::generate_private_key();
        auto pk = sk ? crypto::public_key(*sk) : Result<crypto::Key32>(sk.error());
        if (!pk) return why = pk.error().str(), false;
        h.spoke_keys.push_back(b64(*pk));
    }
    auto sk = crypto::generate_private_key();
    if (!sk) return why = sk.error().str(), false;
    h.private_key_b64 = b64(*sk);
    auto pub = crypto::public_key(*sk);
    if (!pub) return why = pub.error().str(), false;
    h.public_key_b64 = b64(*pub);
    h.key_file = dir + "/hub.key";
    std::ofstream(h.key_file) << h.private_key_b64 << "\n";
    ::chmod(h.key_file.c_str(), 0600);
    return true;
}

// What avpnctl apply plans: the WireGuard group in full, and the XFRM
// group's policies (its SAs and link need ESP and XFRM interfaces).
Result<DesiredState> plan_hub(const Hub& h, KernelPort& port) {
    Intent wg_in = h.intent(h.wg_world), x_in = h.intent(h.xfrm_world);
    PlanInputs inputs;
    if (auto a = port.interface_addresses({kUplink})) inputs.uplink_addresses = *a;
    PlanOutcome wg_plan = plan(wg_in, inputs);
    if (!wg_plan.ok()) return wg_plan.errors.front();
    PlanOutcome x_plan = plan(x_in, inputs);
    if (!x_plan.ok()) return x_plan.errors.front();
    DesiredState d = std::move(wg_plan.state);
    d.xfrm_policies = std::move(x_plan.state.xfrm_policies);
    return d;
}

size_t peers_changed(const std::vector<Op>& ops) {
    size_t n = 0;
    for (const Op& op : ops)
        if (const auto* want = std::get_if<nl::WgDevice>(&op.object))
            n += op.previous ? wg::diff(*want, std::get<nl::WgDevice>(*op.previous)).peers.size()
                             : want->peers.size();
    return n;
}

ApplyFigures timed_apply(const Hub& h, KernelPort& real) {
    ApplyFigures a;
    TimedPort port(real);
    auto t0 = Clock::now();
    auto desired = plan_hub(h, port);
    a.plan_ms = ms_since(t0);
    if (!desired) return a;
    auto t1 = Clock::now();
    ApplyReport r = apply(*desired, runtime::scope_of(*desired, AppliedRecord{}), port, false);
    double apply_ms = ms_since(t1);
    a.total_ms = ms_since(t0);
    a.observe_ms = port.observe_ms;
    a.execute_ms = port.execute_ms;
    a.diff_ms = apply_ms - a.observe_ms - a.execute_ms;
    a.ops = r.ops.size();
    a.executed = port.ops_executed;
    a.peers_changed = peers_changed(r.ops);
    a.ok = r.applied;
    if (r.failure) std::fprintf(stderr, "apply failed: %s\n", r.failure->str().c_str());
    return a;
}

// The daemon's state: one incremental planner per intent and the
// reconciler's kernel image (over a timed port), primed by a full apply.
struct Daemon {
    IncrementalPlanner wg, xfrm;
    TimedPort port;
    Reconciler reconciler{port};
    explicit Daemon(KernelPort& real) : port(real) {}
};

// What the host kernel takes from the XFRM group: its policies.
void add_xfrm_policies(nl::KernelState& into, const nl::KernelState& from) {
    into.xfrm_policies.insert(into.xfrm_policies.end(), from.xfrm_policies.begin(), from.xfrm_policies.end());
}

bool prime_daemon(const Hub& h, const PlanInputs& inputs, Daemon& d) {
    auto wg = d.wg.update(h.intent(h.wg_world), inputs);
    auto x = d.xfrm.update(h.intent(h.xfrm_world), inputs);
    if (!wg.plan.ok() || !x.plan.ok()) return false;
    DesiredState desired = wg.plan.state;
    add_xfrm_policies(desired, x.plan.state);
    ApplyReport r = d.reconciler.apply_full(desired, runtime::scope_of(desired, AppliedRecord{}), false);
    if (!r.applied) return false;
    d.wg.commit(std::move(wg));
    d.xfrm.commit(std::move(x));
    return true;
}

// One change through the daemon's path: plan the delta, apply it against the
// image (nothing is read from the kernel), commit. The new intents are built
// first (in avpnd: the config reloaded, or a registry contact arrived) and
// the uplink address is what the daemon already knows.
ApplyFigures timed_delta(const Hub& h, const PlanInputs& inputs, Daemon& d) {
    ApplyFigures a;
    d.port.execute_ms = d.port.observe_ms = 0;
    d.port.ops_executed = 0;
    const Intent wg_intent = h.intent(h.wg_world), x_intent = h.intent(h.xfrm_world);
    auto t0 = Clock::now();
    auto wg = d.wg.update(wg_intent, inputs);
    auto x = d.xfrm.update(x_intent, inputs);
    a.plan_ms = ms_since(t0);
    if (wg.full || x.full) {
        std::fprintf(stderr, "the daemon planned in full\n");
        return a;
    }
    DesiredState want = wg.want, was = wg.was;
    add_xfrm_policies(want, x.want);
    add_xfrm_policies(was, x.was);
    ApplyReport rep = d.reconciler.apply_delta(want, was, false);
    d.wg.commit(std::move(wg));
    d.xfrm.commit(std::move(x));
    a.total_ms = ms_since(t0);
    a.observe_ms = d.port.observe_ms;
    a.execute_ms = d.port.execute_ms;
    a.diff_ms = a.total_ms - a.plan_ms - a.observe_ms - a.execute_ms;  // slice, diff, record, commit
    a.ops = rep.ops.size();
    a.executed = d.port.ops_executed;
    a.peers_changed = peers_changed(rep.ops);
    a.ok = rep.applied;
    if (rep.failure) std::fprintf(stderr, "delta apply failed: %s\n", rep.failure->str().c_str());
    return a;
}

void count_objects(const DesiredState& d, Figures& f) {
    f.objects[0] = d.links.size();
    f.objects[1] = d.addresses.size();
    f.objects[2] = d.wireguard.size();
    for (const auto& w : d.wireguard) f.objects[3] += w.peers.size();
    f.objects[4] = d.routes.size();
    f.objects[5] = d.rules.size();
    f.objects[6] = d.xfrm_policies.size();
}

// One spoke moves a VLAN to another /24 (run k: 11.7.k.0/24): its peer's
// allowed IPs, one route and that prefix's XFRM policies change.
void change_one_spoke(Hub& h, size_t spokes, int k) {
    std::string name = "s" + std::to_string(spokes / 2);
    Prefix moved{IpAddr::v4((11u << 24) | (7u << 16) | (uint32_t(k) << 8)), 24};
    h.wg_world.site(name).exports[1] = moved;
    h.xfrm_world.site(name).exports[1] = moved;
}

// The run with the median total of `runs` (each run may change the input).
template <class Run>
ApplyFigures median_of(int runs, Run run) {
    std::vector<ApplyFigures> all;
    for (int i = 0; i < runs; ++i) all.push_back(run(i));
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.total_ms < b.total_ms; });
    for (const auto& a : all)
        if (!a.ok) return a;
    return all[all.size() / 2];
}

template <class Read>
double median_ms(Read read) {
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
        auto t0 = Clock::now();
        if (!read()) return -1;
        ms.push_back(ms_since(t0));
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// What observe() spends its time on: the three big reads, one at a time
// (observe runs the WireGuard read beside the two netlink dumps).
void time_reads(const DesiredState& d, Figures& f) {
    const std::string& wg_if = d.wireguard.front().ifname;
    auto sel = wg::select_backend(wg_if, wg::BackendPreference::automatic, wg::SelectOptions{});
    if (sel) f.read_wg_ms = median_ms([&] { return bool(sel->backend->get(wg_if)); });
    runtime::WireguardExpectation applied;
    applied.reset(d.wireguard);
    // Each run must find the device as applied: a poll that saw a
    // difference here would repair a hub every few seconds.
    if (sel) {
        f.wg_poll_ms = median_ms([&] {
            auto dev = sel->backend->get(wg_if);
            return dev && !applied.difference(*dev);
        });
        auto dev = sel->backend->get(wg_if);
        if (dev) f.wg_compare_ms = median_ms([&] { return !applied.difference(*dev); });
    }
    auto rtnl = nl::Socket::open(NETLINK_ROUTE);
    auto x = nl::Socket::open(NETLINK_XFRM);
    if (!rtnl || !x) return;
    auto links = nl::dump_links(*rtnl);
    if (!links) return;
    nl::LinkIndex names(*links);
    nl::RouteFilter table{d.routes.front().table, own::kRouteProtocol, std::nullopt};
    f.read_routes_ms = median_ms([&] { return bool(nl::dump_routes(*rtnl, table, names)); });
    auto owned = nl::policy_owned({own::kReqidFirst, own::kReqidLast}, {own::kIfIdFirst, own::kIfIdLast});
    f.read_policies_ms = median_ms([&] { return bool(nl::dump_policies(*x, owned)); });
}

void avpn_side(size_t spokes, const std::string& dir, Figures& f) {
    if (!enter_fresh_namespace(f)) return;
    StopWireguardGo stop;
    Hub h;
    std::string why;
    if (!make_hub(spokes, dir, h, why)) return fail(f, why);
    f.rss_before_kb = rss_kb();
    auto port = NetlinkPort::open({});  // as avpnctl apply
    if (!port) return fail(f, port.error().str());
    auto d = plan_hub(h, **port);
    if (!d) return fail(f, d.error().str());
    count_objects(*d, f);
    f.cold = timed_apply(h, **port);
    if (!f.cold.ok) return fail(f, "cold apply failed");
    time_reads(*d, f);
    f.noop = median_of(kRuns, [&](int) { return timed_apply(h, **port); });
    f.incremental = median_of(kRuns, [&](int k) {
        change_one_spoke(h, spokes, k);
        return timed_apply(h, **port);
    });
    Daemon daemon(**port);
    PlanInputs inputs;
    if (auto a = (*port)->interface_addresses({kUplink})) inputs.uplink_addresses = *a;
    if (!prime_daemon(h, inputs, daemon)) return fail(f, "the daemon's first full apply failed");
    f.daemon_noop = median_of(kRuns, [&](int) { return timed_delta(h, inputs, daemon); });
    f.daemon_incremental = median_of(kRuns, [&](int k) {
        change_one_spoke(h, spokes, kRuns + k);
        return timed_delta(h, inputs, daemon);
    });
    // The image must still be the kernel: a full diff after the deltas is empty.
    auto check = timed_apply(h, **port);
    f.ok = f.incremental.ok && f.noop.ok && f.daemon_noop.ok && f.daemon_incremental.ok && check.ok && check.ops == 0;
    if (check.ops != 0) return fail(f, "after the daemon's deltas a full apply still found " + std::to_string(check.ops) + " ops");
    if (f.wg_poll_ms < 0) return fail(f, "avpnd's WireGuard poll found a difference after the apply");
    if (!f.ok) fail(f, "incremental or no-op apply failed");
}

void baseline_side(size_t spokes, const std::string& dir, Figures& f) {
    if (!enter_fresh_namespace(f)) return;
    StopWireguardGo stop;
    Hub h;
    std::string why;
    if (!make_hub(spokes, dir, h, why)) return fail(f, why);
    auto port = NetlinkPort::open({});
    if (!port) return fail(f, port.error().str());
    auto d = plan_hub(h, **port);
    if (!d) return fail(f, d.error().str());
    count_objects(*d, f);
    bench::BaselineFiles files = bench::write_baseline_files(*d, h.private_key_b64, dir);

    auto t0 = Clock::now();
    auto step = [&](int i, const std::vector<std::string>& argv) {
        auto t = Clock::now();
        bool ok = bench::run_program(argv, i == 0);  // wireguard-go's banner says to use the kernel module
        f.baseline_ms[i] = ms_since(t);
        return ok;
    };
    // wireguard-go opens the TUN device and the UAPI socket before it
    // daemonizes, so both exist when the command returns.
    bool ok = step(0, {"wireguard-go", files.wg_ifname}) && step(1, {"ip", "-batch", files.rtnl}) &&
              (files.rtnl6.empty() || step(2, {"ip", "-6", "-batch", files.rtnl6})) &&
              step(3, {"wg", "setconf", files.wg_ifname, files.wg_conf}) &&
              step(4, {"ip", "-batch", files.xfrm});
    f.baseline_total_ms = ms_since(t0);
    if (!ok) return fail(f, "a baseline command failed (files in " + dir + ")");

    // Same objects? avpn's own diff of what the tools wrote must be empty.
    auto observed = (*port)->observe(runtime::scope_of(*d, AppliedRecord{}));
    if (!observed) return fail(f, observed.error().str());
    auto residual = diff(*d, *observed);
    f.baseline_residual_ops = residual.size();
    for (size_t i = 0; i < residual.size() && i < 5; ++i)
        std::fprintf(stderr, "baseline differs: %s %s\n", std::string(to_string(residual[i].kind)).c_str(),
                     describe(residual[i].object).c_str());
    f.ok = true;
}

// Runs one side in a child process; its peak RSS comes back with wait4.
bool run_child(void (*side)(size_t, const std::string&, Figures&), size_t spokes, Figures& f, long& peak_kb) {
    char tmpl[] = "/tmp/bench_apply.XXXXXX";
    if (!mkdtemp(tmpl)) return false;
    std::string dir = tmpl;
    bool ok = bench::measure_in_child(
        [&] {
            Figures mine;
            side(spokes, dir, mine);
            return mine;
        },
        f, peak_kb);
    if (!std::getenv("BENCH_APPLY_KEEP")) bench::run_program({"rm", "-rf", dir});
    return ok;
}

void print_apply(const char* what, const ApplyFigures& a) {
    std::printf("  %-11s ops %6zu (wg peers changed %5zu)  total %8.1f ms = plan %7.1f + observe %7.1f + diff %6.1f + execute %8.1f\n",
                what, a.ops, a.peers_changed, a.total_ms, a.plan_ms, a.observe_ms, a.diff_ms, a.execute_ms);
}

bool run_case(size_t spokes) {
    Figures avpn, base;
    long avpn_peak = 0, base_peak = 0;
    // BENCH_APPLY_AVPN_ONLY=1 skips the baseline (for profiling avpn's side).
    bool b_ok = std::getenv("BENCH_APPLY_AVPN_ONLY") ? false : run_child(baseline_side, spokes, base, base_peak);
    bool a_ok = run_child(avpn_side, spokes, avpn, avpn_peak);
    std::printf("\n%zu spokes x %zu VLANs\n", spokes, kVlans);
    if (!b_ok || !base.ok) std::printf("  baseline failed or skipped: %s\n", base.error);
    if (!a_ok || !avpn.ok) std::printf("  avpn failed: %s\n", avpn.error);
    const Figures& o = a_ok ? avpn : base;
    std::printf("  objects: %zu link, %zu address, %zu wireguard device with %zu peers, %zu routes, %zu rules, %zu xfrm policies\n",
                o.objects[0], o.objects[1], o.objects[2], o.objects[3], o.objects[4], o.objects[5], o.objects[6]);
    if (b_ok && base.ok)
        std::printf("  baseline    %8.1f ms = wireguard-go %.1f + ip -batch %.1f + ip -6 -batch %.1f + wg setconf %.1f + ip -batch xfrm %.1f; avpn diff of it: %zu ops; peak RSS %.1f MB\n",
                    base.baseline_total_ms, base.baseline_ms[0], base.baseline_ms[1], base.baseline_ms[2],
                    base.baseline_ms[3], base.baseline_ms[4], base.baseline_residual_ops, double(base_peak) / 1024);
    if (a_ok && avpn.ok) {
        print_apply("cold", avpn.cold);
        print_apply("no-op", avpn.noop);
        print_apply("incremental", avpn.incremental);
        std::printf("  daemon (planner and kernel image kept; nothing read back):\n");
        print_apply("no-op", avpn.daemon_noop);
        print_apply("incremental", avpn.daemon_incremental);
        std::printf("  (no-op and incremental: the run with the median total of %d; daemon diff column = slice, diff, record, commit)\n", kRuns);
        std::printf("  reads alone: wireguard UAPI get %.1f ms, route dump %.1f ms, xfrm policy dump %.1f ms\n",
                    avpn.read_wg_ms, avpn.read_routes_ms, avpn.read_policies_ms);
        std::printf("  avpnd's wireguard poll: %.1f ms (read + compare with the device as applied; compare alone %.2f ms)%s\n",
                    avpn.wg_poll_ms, avpn.wg_compare_ms, avpn.wg_poll_ms < 0 ? " FAILED: a difference or no read" : "");
        std::printf("  peak RSS %.1f MB (input %.1f MB)\n", double(avpn_peak) / 1024, double(avpn.rss_before_kb) / 1024);
    }
    if (a_ok && avpn.ok && b_ok && base.ok)
        std::printf("  ratio avpn cold / baseline: %.2f (apply only, without plan: %.2f)\n",
                    avpn.cold.total_ms / base.baseline_total_ms,
                    (avpn.cold.total_ms - avpn.cold.plan_ms) / base.baseline_total_ms);
    std::fflush(stdout);
    return a_ok && avpn.ok && b_ok && base.ok && base.baseline_residual_ops == 0 && avpn.noop.ops == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (geteuid() != 0) {
        std::printf("bench_apply: skipped: needs root (network namespaces, wireguard-go)\n");
        return 77;
    }
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::stoul(argv[i]));
    if (sizes.empty()) sizes = {2000, 10000};
    std::printf("bench_apply: hub apply through avpnctl's path vs ip -batch / wg setconf, fresh netns per side\n");
    bool ok = true;
    for (size_t n : sizes) ok = run_case(n) && ok;
    return ok ? 0 : 1;
}
