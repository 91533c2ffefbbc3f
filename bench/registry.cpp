// bench_registry [SITES] [PASSES]: the built avpn-registry (a separate
// process, as deployed) on loopback with SITES member keys (default
// 100,000), all of which handshake and register, then PASSES (default 3)
// rounds of one authenticated registration per site. Prints
//  - handshakes/s and the registry's CPU per handshake (Noise IKpsk2, 4 DH
//    per handshake at the registry counting the ephemeral's);
//  - registrations/s in each pass and per CPU-second of the registry (it is
//    single-threaded: that is registrations/s on one core);
//  - the registry's heap in use (its SIGUSR1 line's heap_bytes) with no
//    site registered and with all of them, the difference per registered
//    site, and its RSS.
// The sites are this process: the client state machine over 1,024 UDP
// sockets on 127.1.x.y (the registry limits handshakes per source IP, as
// WireGuard: 20/s, burst 5), each shared by SITES/1024 sites and routed
// by session index. Sends go in windows of 1,024 so the socket buffers do
// not drop. Prints figures; fails only if the registry does not count every
// site registered at the end.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "orchestrator/registry/udp_socket.hpp"
#include "plugins/registry/client.hpp"

using namespace avpn;
using namespace avpn::registry;

namespace {

constexpr size_t kSockets = 1024, kWindow = 1024;

double seconds_since(Time t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double cpu_seconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), {});
    auto close = s.rfind(')');
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        rest >> field;
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

long rss_kb(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

struct Registry {
    pid_t pid = -1;
    FILE* err = nullptr;
    std::string line() {
        char buf[4096];
        if (!std::fgets(buf, sizeof buf, err)) return {};
        return buf;
    }
};

// The registry's SIGUSR1 line.
std::string stats_of(Registry& r) {
    kill(r.pid, SIGUSR1);
    std::string l;
    while (!(l = r.line()).empty() && l.rfind("registry: ", 0) != 0) {}
    return l;
}

double counter(const std::string& stats, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(stats, m, std::regex(" " + name + "=([0-9]+)"))) return -1;
    return std::stod(m[1].str());
}

Registry start(const std::string& bin, const std::vector<std::string>& args) {
    int p[2];
    if (pipe(p) != 0) std::exit(1);
    Registry r;
    r.pid = fork();
    if (r.pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        std::vector<char*> argv{const_cast<char*>(bin.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(bin.c_str(), argv.data());
        _exit(127);
    }
    close(p[1]);
    r.err = fdopen(p[0], "r");
    return r;
}

struct Sites {
    std::vector<Client> clients;
    std::vector<UdpSocket> sockets;
    // (socket, our session index) -> site: indexes are random 32-bit
    // numbers, and 100,000 of them in one table collide about once.
    std::unordered_map<uint64_t, size_t> by_index;
    static uint64_t route_key(size_t socket, uint32_t index) { return uint64_t(socket) << 32 | index; }
    Endpoint registry;

    UdpSocket& socket_of(size_t site) { return sockets[site % kSockets]; }
    void send(size_t site, const Bytes& b) { (void)socket_of(site).send(registry, b); }

    // Reads until `done(site)` holds for every site in [from, to) or the
    // deadline; answers as the clients say.
    template <class Done>
    size_t pump(size_t from, size_t to, Done done, std::chrono::milliseconds limit) {
        const Time end = Clock::now() + limit;
        std::vector<pollfd> fds(kSockets);
        for (size_t i = 0; i < kSockets; ++i) fds[i] = {sockets[i].fd(), POLLIN, 0};
        size_t finished = 0;
        auto count = [&] {
            finished = 0;
            for (size_t s = from; s < to; ++s) finished += done(s);
            return finished == to - from;
        };
        while (!count() && Clock::now() < end) {
            if (poll(fds.data(), fds.size(), 50) <= 0) continue;
            for (size_t i = 0; i < kSockets; ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                while (auto d = sockets[i].receive()) {
                    if (!*d) break;
                    const Bytes& b = (*d)->bytes;
                    if (b.size() < 16) continue;
                    const size_t at = b[4] == uint8_t(MessageType::response) ? 12 : 8;
                    const uint32_t index = uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
                    auto it = by_index.find(route_key(i, index));
                    if (it == by_index.end()) continue;
                    auto out = clients[it->second].on_datagram(b, Clock::now());
                    if (out)
                        for (const Bytes& o : *out) send(it->second, o);
                }
            }
        }
        return finished;
    }
};

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::stoul(argv[1]) : 100000;
    const int passes = argc > 2 ? std::stoi(argv[2]) : 3;
    std::string bin = argv[0];
    bin = bin.substr(0, bin.rfind('/') + 1) + "avpn-registry";

    char tmpl[] = "/tmp/bench-registry.XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const Key32 registry_key = *crypto::generate_private_key();
    const Key32 group_key = *crypto::generate_private_key();
    std::vector<Key32> keys(n);
    {
        std::ofstream m(dir + "/members.toml");
        m << "[group]\nname = \"bench\"\n";
        for (size_t i = 0; i < n; ++i) {
            keys[i] = *crypto::generate_private_key();
            const Key32 pub = *crypto::public_key(keys[i]);
            m << "\n[[member]]\nname = \"s" << i << "\"\nrole = \"hub\"\npublic_key = \""
              << crypto::base64_encode(pub.data(), 32) << "\"\n";
        }
        std::ofstream(dir + "/registry.key") << crypto::base64_encode(registry_key.data(), 32) << "\n";
        std::ofstream(dir + "/group.key") << crypto::base64_encode(group_key.data(), 32) << "\n";
        chmod((dir + "/registry.key").c_str(), 0600);
        chmod((dir + "/group.key").c_str(), 0600);
    }
    Time t0 = Clock::now();
    Registry reg = start(bin, {"--listen", "127.0.0.1:0", "--key", dir + "/registry.key", "--members",
                               dir + "/members.toml", "--group-key", "bench=" + dir + "/group.key"});
    const std::string first = reg.line();
    std::smatch m;
    if (!std::regex_search(first, m, std::regex("listening on ([0-9.]+):([0-9]+)"))) {
        std::fprintf(stderr, "bench_registry: %s did not start: %s\n", bin.c_str(), first.c_str());
        return 1;
    }
    std::printf("registry: %zu members loaded in %.2f s\n", n, seconds_since(t0));

    Sites sites;
    sites.registry = Endpoint{IpAddr::v4(0x7f000001), uint16_t(std::stoi(m[2].str()))};
    for (size_t i = 0; i < kSockets; ++i) {
        auto s = UdpSocket::bind(Endpoint{IpAddr::v4(0x7f010000 + uint32_t(i)), 0});
        if (!s) {
            std::fprintf(stderr, "bench_registry: %s\n", s.error().str().c_str());
            return 1;
        }
        sites.sockets.push_back(std::move(*s));
    }
    for (size_t i = 0; i < n; ++i) {
        ClientConfig c;
        c.site_private = keys[i];
        c.registry_public = *crypto::public_key(registry_key);
        c.group = "bench";
        c.psk = group_key;
        c.seed = uint32_t(i + 1);
        sites.clients.push_back(std::move(*Client::create(c)));
    }
    const long rss_empty = rss_kb(reg.pid);
    const std::string empty_stats = stats_of(reg);
    const double heap_empty = counter(empty_stats, "heap_bytes");
    std::printf("registry with %zu members, none registered: RSS %.1f MB, heap in use %.1f MB (%.0f bytes per member)\n", n,
                double(rss_empty) / 1024, heap_empty / 1048576, heap_empty / double(n));

    // Handshake + first registration, a window at a time. A site without a
    // session after its window is tried again (fresh initiation) later.
    double cpu0 = cpu_seconds(reg.pid);
    t0 = Clock::now();
    std::vector<bool> registered(n, false);
    Time fake = Clock::now();
    for (int sweep = 0; sweep < 5; ++sweep) {
        fake += std::chrono::seconds(6);  // past the 5 s handshake retry of sites tried before
        for (size_t from = 0; from < n; from += kWindow) {
            const size_t to = std::min(n, from + kWindow);
            for (size_t s = from; s < to; ++s) {
                if (sites.clients[s].observed()) continue;
                auto out = sites.clients[s].tick(fake, keying::tai64n_now());
                if (!out) continue;
                for (const Bytes& b : *out) {
                    if (b[4] == uint8_t(MessageType::initiation))
                        sites.by_index[Sites::route_key(s % kSockets, uint32_t(b[8]) << 24 | uint32_t(b[9]) << 16 |
                                                                              uint32_t(b[10]) << 8 | b[11])] = s;
                    sites.send(s, b);
                }
            }
            sites.pump(from, to, [&](size_t s) { return sites.clients[s].observed().has_value(); },
                       std::chrono::milliseconds(2000));
        }
        size_t done = 0;
        for (size_t s = 0; s < n; ++s) done += sites.clients[s].observed().has_value();
        if (done == n) break;
    }
    const double hs_wall = seconds_since(t0), hs_cpu = cpu_seconds(reg.pid) - cpu0;
    std::printf("handshake + first registration of %zu sites: %.2f s wall, %.0f/s; registry CPU %.2f s, %.3f ms per site\n",
                n, hs_wall, double(n) / hs_wall, hs_cpu, 1000 * hs_cpu / double(n));

    for (int p = 0; p < passes; ++p) {
        cpu0 = cpu_seconds(reg.pid);
        t0 = Clock::now();
        size_t answered = 0;
        for (size_t from = 0; from < n; from += kWindow) {
            const size_t to = std::min(n, from + kWindow);
            const Time sent = Clock::now();
            for (size_t s = from; s < to; ++s)
                if (auto b = sites.clients[s].register_now(sent)) sites.send(s, *b);
            answered += sites.pump(from, to, [&](size_t s) {
                auto t = sites.clients[s].last_answer();
                return t && *t >= sent;
            },
                                   std::chrono::milliseconds(1000));
        }
        const double wall = seconds_since(t0), cpu = cpu_seconds(reg.pid) - cpu0;
        std::printf("pass %d: %zu of %zu registrations answered in %.2f s: %.0f/s; registry CPU %.2f s: %.0f registrations per CPU-second\n",
                    p + 1, answered, n, wall, double(answered) / wall, cpu, double(answered) / cpu);
    }
    const long rss_full = rss_kb(reg.pid);
    const std::string stats = stats_of(reg);
    const double heap_full = counter(stats, "heap_bytes");
    std::printf("registry with %zu sites registered: RSS %.1f MB, heap in use %.1f MB: %.0f bytes per registered site\n", n,
                double(rss_full) / 1024, heap_full / 1048576, (heap_full - heap_empty) / double(n));
    std::printf("%s", stats.c_str());
    kill(reg.pid, SIGTERM);
    waitpid(reg.pid, nullptr, 0);
    (void)std::system(("rm -rf " + dir).c_str());
    const bool all = stats.find(" registered=" + std::to_string(n) + " ") != std::string::npos;
    if (!all) std::fprintf(stderr, "bench_registry: the registry does not hold every site registered\n");
    return all ? 0 : 1;
}
