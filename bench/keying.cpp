// bench_keying: the XFRM key exchange at a hub with N spokes (default
// 10,000), through avpnd's own XfrmKeying: every spoke's initiation is
// answered, every confirm switches an outbound SA, and the hub's CPU time
// for all of it is measured (getrusage, this process). The spokes' side
// (Noise initiators) runs in the same process but is timed apart. Then the
// steady state: at the rotation period every peer rekeys once, so the hub
// answers N handshakes per period. Kernel SA install is bench_kernel_sa's
// (in the VM), and the whole path (these handshakes, planned and applied
// into a kernel by avpnd's site runtime) is bench_keying_kernel's. Prints
// figures; never fails on a time.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/keying_spokes.hpp"
#include "common/crypto.hpp"
#include "orchestrator/runtime/xfrm_keying.hpp"

using namespace avpn;
using namespace avpn::bench;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? size_t(std::atol(argv[1])) : 10000;
    const int rotation_s = 600;
    char dir[] = "/tmp/avpn-bench-keying-XXXXXX";
    if (!::mkdtemp(dir)) return 1;
    auto hub_priv = crypto::generate_private_key();
    auto hub_pub = crypto::public_key(*hub_priv);
    const std::string key_file = std::string(dir) + "/hub.key";
    std::ofstream(key_file) << crypto::base64_encode(hub_priv->data(), 32) << "\n";
    ::chmod(key_file.c_str(), 0600);

    Timer keygen;
    auto made = make_spokes(n, *hub_pub, "bench");
    if (!made) return 1;
    std::vector<Spoke>& spokes = *made;
    std::vector<Endpoint> at(n);
    planner::KeyingGroupView view{"bench", key_file, 51820, {}};
    for (size_t i = 0; i < n; ++i) {
        at[i] = Endpoint{IpAddr::v4(0x0a000000u + uint32_t(i)), 51820};
        view.peers.push_back({"s" + std::to_string(i), crypto::base64_encode(spokes[i].pub.data(), 32), at[i],
                              {0x40000000u + uint32_t(i), 0x60000000u + uint32_t(i)}});
    }
    std::printf("spokes %zu: keys and initiators made in %.2f s\n", n, keygen.wall());

    keying::Time now{};
    uint64_t wall_s = 1'800'000'000;
    runtime::XfrmKeying hub({}, [&] { return keying::tai64n_from_unix(wall_s, 0); });
    Timer conf;
    Errors e = hub.configure({view});
    if (!e.empty()) {
        std::fprintf(stderr, "configure: %s\n", e[0].str().c_str());
        return 1;
    }
    std::printf("hub configure (%zu peers): %.3f s cpu\n", n, conf.cpu());

    // Initiations: the spokes' CPU apart from the hub's.
    std::vector<keying::Bytes> initiations(n);
    Timer spoke_side;
    for (size_t i = 0; i < n; ++i)
        initiations[i] = *spokes[i].init->start({uint32_t(i + 1), 0x50000000u + uint32_t(i), 1},
                                                keying::tai64n_from_unix(wall_s, uint32_t(i)), now);
    const double start_cpu = spoke_side.cpu();

    // The hub answers, 150 per simulated second (below the cookie threshold).
    Timer answer;
    std::vector<keying::Bytes> responses(n);
    size_t applies = 0;
    for (size_t i = 0; i < n; ++i) {
        now += 6700us;
        auto w = hub.receive("bench", 0, at[i], initiations[i], now);
        applies += w.apply;
        if (w.sends.size() == 1) responses[i] = std::move(w.sends[0].bytes);
    }
    const double answer_cpu = answer.cpu(), answer_wall = answer.wall();

    Timer finish;
    std::vector<keying::Bytes> confirms(n);
    size_t sessions = 0;
    for (size_t i = 0; i < n; ++i) {
        auto s = spokes[i].init->finish(responses[i]);
        if (!s) continue;
        spokes[i].session.emplace(std::move(*s));
        confirms[i] = *keying::make_confirm(*spokes[i].session);
        ++sessions;
    }
    const double finish_cpu = finish.cpu();

    Timer confirm;
    for (size_t i = 0; i < n; ++i) applies += hub.receive("bench", 0, at[i], confirms[i], now).apply;
    const double confirm_cpu = confirm.cpu();

    PlanInputs in;
    hub.add_inputs(in);
    size_t outbound = 0, inbound = 0;
    for (const auto& [k, sas] : in.xfrm_sessions) {
        outbound += sas.outbound.has_value();
        inbound += sas.inbound.size();
    }
    std::printf("hub: %zu initiations answered in %.2f s cpu (%.3f ms each), %.2f s wall\n", n, answer_cpu,
                1000 * answer_cpu / double(n), answer_wall);
    std::printf("hub: %zu confirms in %.3f s cpu (%.1f us each); %zu peers with SA pairs (%zu inbound, %zu outbound)\n",
                n, confirm_cpu, 1e6 * confirm_cpu / double(n), sessions, inbound, outbound);
    std::printf("hub: %zu applies asked for (one per peer per step; avpnd batches those of one wakeup)\n", applies);
    std::printf("spokes: start %.3f ms, finish + confirm %.3f ms each (cpu)\n", 1000 * start_cpu / double(n),
                1000 * finish_cpu / double(n));
    const double per_handshake = (answer_cpu + confirm_cpu) / double(n);
    std::printf("steady state at a %d s rotation: %.1f handshakes/s, %.2f %% of one core at the hub\n", rotation_s,
                double(n) / rotation_s, 100 * per_handshake * double(n) / rotation_s);
    (void)std::system((std::string("rm -rf ") + dir).c_str());
    return outbound == n && sessions == n ? 0 : 1;
}
