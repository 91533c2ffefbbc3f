// Loading N tunnels into charon through avpn's reconciler vs `swanctl
// --load-all` of the equivalent swanctl.conf, against the same charon in the
// same run. Prints medians and ratios; never fails on a time. Run it through
// bench/vici_load.sh, which starts a private charon in a namespace.
//
//   bench_vici_load --socket S --work DIR [--count N] [--runs R]
//
// Per run: avpn cold load (N new), avpn no-op re-apply (N unchanged), avpn
// unload of all; swanctl cold load, swanctl reload of the same file, swanctl
// unload (an empty file). The swanctl.conf is written from the very load-conn
// messages avpn sends, so both sides load the same configuration.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/reconcile.hpp"

using namespace avpn;
using namespace avpn::vici;

namespace {

using Seconds = std::chrono::duration<double>;

Connection tunnel(const std::string& dir, int i) {
    Connection c;
    c.name = "avpn-bench-" + std::to_string(i);
    c.local_addrs = {"192.0.2.1"};
    c.remote_addrs = {"10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)};
    c.local_id = "site.example";
    c.remote_id = "peer" + std::to_string(i) + ".example";
    c.psk_file = dir + "/psk-" + std::to_string(i);
    c.ike_proposals = {"aes256-sha256-modp2048"};
    c.dpd_delay = 30;
    c.child.name = c.name + "-child";
    c.child.local_ts = {"10.1.0.0/24"};
    c.child.remote_ts = {"10.100." + std::to_string(i / 250) + "." + std::to_string((i % 250) * 1) + "/32"};
    c.child.esp_proposals = {"aes256-sha256"};
    c.child.start_action = "none";  // responders: the bench measures loading, not IKE
    c.child.dpd_action = "clear";
    return c;
}

// swanctl.conf syntax for a load-conn tree: lists are comma-separated.
void write_section(std::ofstream& out, const Section& s, int depth) {
    const std::string pad(size_t(depth) * 2, ' ');
    for (const Entry& e : s.entries()) {
        if (e.kind == Entry::Kind::Value) out << pad << e.name << " = " << e.value << "\n";
        if (e.kind == Entry::Kind::List) {
            out << pad << e.name << " = ";
            for (size_t i = 0; i < e.items.size(); ++i) out << (i ? "," : "") << e.items[i];
            out << "\n";
        }
        if (e.kind == Entry::Kind::Section) {
            out << pad << e.name << " {\n";
            write_section(out, e.section, depth + 1);
            out << pad << "}\n";
        }
    }
}

bool write_inputs(const std::string& dir, const std::vector<Connection>& conns) {
    std::ofstream conf(dir + "/swanctl.conf");
    conf << "connections {\n";
    for (const Connection& c : conns) {
        std::ofstream(c.psk_file) << "bench-secret-" << c.name << "\n";
        ::chmod(c.psk_file.c_str(), 0600);
        auto msg = load_conn_message(c);
        if (!msg) return false;
        write_section(conf, *msg, 1);
    }
    conf << "}\nsecrets {\n";
    for (const Connection& c : conns)
        conf << "  ike-" << c.name << " {\n    id-l = " << c.local_id << "\n    id-r = " << c.remote_id
             << "\n    secret = bench-secret-" << c.name << "\n  }\n";
    conf << "}\n";
    std::ofstream(dir + "/empty.conf") << "connections {\n}\nsecrets {\n}\n";
    return bool(conf);
}

double timed_reconcile(Client& client, const std::string& dir, const std::vector<Connection>& want,
                       size_t expect_loaded, size_t expect_unchanged) {
    ReconcileOptions opt;
    opt.state_path = dir + "/vici.state";
    const auto t0 = std::chrono::steady_clock::now();
    auto r = reconcile(client, want, opt);
    const double s = Seconds(std::chrono::steady_clock::now() - t0).count();
    if (!r || !r->ok() || r->loaded.size() != expect_loaded || r->unchanged.size() != expect_unchanged) {
        std::fprintf(stderr, "reconcile did not do what the bench expects (loaded %zu, unchanged %zu): %s\n",
                     r ? r->loaded.size() : 0, r ? r->unchanged.size() : 0,
                     !r ? r.error().str().c_str() : (r->errors.empty() ? "counts differ" : r->errors[0].error.str().c_str()));
        std::exit(1);
    }
    return s;
}

double timed_swanctl(const std::string& file) {
    const std::string cmd = "swanctl --load-all --file " + file + " >/dev/null 2>&1";
    const auto t0 = std::chrono::steady_clock::now();
    int rc = std::system(cmd.c_str());
    const double s = Seconds(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) {
        std::fprintf(stderr, "%s failed (%d)\n", cmd.c_str(), rc);
        std::exit(1);
    }
    return s;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket, dir;
    int count = 1000, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--socket") socket = argv[i + 1];
        else if (a == "--work") dir = argv[i + 1];
        else if (a == "--count") count = std::atoi(argv[i + 1]);
        else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    }
    if (socket.empty() || dir.empty() || count <= 0 || runs <= 0) {
        std::fprintf(stderr, "usage: bench_vici_load --socket S --work DIR [--count N] [--runs R]\n");
        return 2;
    }
    std::vector<Connection> conns;
    for (int i = 0; i < count; ++i) conns.push_back(tunnel(dir, i));
    if (!write_inputs(dir, conns)) return 1;
    ClientOptions copt;
    copt.socket_path = socket;
    copt.timeout = std::chrono::seconds(60);
    Client client(copt);
    const size_t n = conns.size();
    std::vector<double> avpn_load, avpn_noop, avpn_unload, sw_load, sw_reload, sw_unload;
    for (int r = 0; r < runs; ++r) {
        avpn_load.push_back(timed_reconcile(client, dir, conns, n, 0));
        avpn_noop.push_back(timed_reconcile(client, dir, conns, 0, n));
        avpn_unload.push_back(timed_reconcile(client, dir, {}, 0, 0));
        sw_load.push_back(timed_swanctl(dir + "/swanctl.conf"));
        sw_reload.push_back(timed_swanctl(dir + "/swanctl.conf"));
        sw_unload.push_back(timed_swanctl(dir + "/empty.conf"));
    }
    std::printf("vici load of %d tunnels, median of %d runs (same charon, same run)\n", count, runs);
    std::printf("  cold load   avpn reconcile %8.3f s   swanctl --load-all %8.3f s   ratio avpn/swanctl %.2f\n",
                median(avpn_load), median(sw_load), median(avpn_load) / median(sw_load));
    std::printf("  re-apply    avpn (no-op)   %8.3f s   swanctl (reloads)  %8.3f s   ratio avpn/swanctl %.2f\n",
                median(avpn_noop), median(sw_reload), median(avpn_noop) / median(sw_reload));
    std::printf("  unload all  avpn reconcile %8.3f s   swanctl empty file %8.3f s   ratio avpn/swanctl %.2f\n",
                median(avpn_unload), median(sw_unload), median(avpn_unload) / median(sw_unload));
    std::printf("  per tunnel  avpn cold load %8.3f ms\n", median(avpn_load) * 1000 / count);
    return 0;
}
