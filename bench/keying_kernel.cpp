// bench_keying_kernel SPOKES [options]: the XFRM key exchange at a hub with
// SPOKES spokes through avpnd's own path into a real kernel. The hub is a
// runtime::Site (what avpnd runs): it holds the group's ESP-in-UDP socket,
// reads handshakes from it (at most 256 datagrams per wakeup), and when a
// peer's SAs change it plans them incrementally and applies them through the
// reconciler's NetlinkPort, which takes the keys from XfrmKeying by id. It
// ticks every 250 ms as avpnd's loop does. The spokes are simulated in this
// process, on a thread of their own (bench/keying_spokes.hpp): Noise
// initiators over one UDP socket, each sending from its own address (a local
// route for 10.64.0.0/16), with keys below the hub's so the spokes lead every
// rotation and the hub answers. A spoke answers the hub's own initiations as
// avpnd's PeerSession does: ignored while its own is pending, else answered
// (a Noise responder of its own), which replaces its session.
//
// Phases, each timed on the hub's thread alone (getrusage RUSAGE_THREAD
// around every call into the site, so the spokes' CPU is not counted):
//   start: avpnd's first full apply (policies, no SAs: no handshake yet);
//   cold:  every spoke initiates at once, in waves of --wave datagrams (the
//          hub's socket buffer holds a few hundred); ends when every peer's
//          confirm has been applied; the kernel must then hold 2 SAs a peer.
//          The hub ticks as avpnd does, so it also initiates to every peer
//          it has no session with (again every 5 s); --no-cold-tick leaves
//          that out and measures the answering alone;
//   steady (--steady S > 0): each spoke rekeys once per 600 s rotation, so
//          SPOKES/600 handshakes a second, and sends a keepalive every 10 s
//          as avpnd does; 25 s of warm-up, S seconds measured, then 25 s
//          without rekeys so the last old SAs' linger (20 s) ends; the
//          kernel must again hold exactly 2 SAs a peer.
// --hold MS: how long the hub holds SA-changing work to share one converge
// (SiteOptions::keying_hold_ms, avpnd's default 100; 0 converges per wakeup).
// Run in a fresh network namespace with lo, wan0 (192.0.2.1/24), lan0
// (10.0.1.1/24) and the local route (bench/keying-kernel/guest.sh makes it).
// Prints figures; never fails on a time. Exits 1 when the work is wrong
// (an apply failed, a peer has no SA pair, the kernel holds other SAs).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/keying_spokes.hpp"
#include "netlink/xfrm.hpp"
#include "orchestrator/runtime/site.hpp"
#include "plugins/keying/handshake_wire.hpp"

using namespace avpn;
using namespace avpn::bench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr uint16_t kHubPort = 51820, kSpokePort = 51821;
constexpr auto kRotation = 600s, kKeepalive = 10s, kRetry = 5s;
constexpr auto kTick = 250ms;  // avpnd's keying tick
const char* const kHubWan = "192.0.2.1";

uint32_t spoke_address(size_t i) { return (10u << 24 | 64u << 16) + uint32_t(i) + 1; }  // 10.64.0.1 ...
std::string dotted(uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}

// The hub's configuration: one XFRM group, the hub and N spokes, each spoke
// exporting a /24 of its own.
bool write_config(const std::string& dir, const crypto::Key32& hub_priv, const crypto::Key32& hub_pub,
                  const std::vector<Spoke>& spokes) {
    std::ofstream(dir + "/hub.key") << crypto::base64_encode(hub_priv.data(), 32) << "\n";
    ::chmod((dir + "/hub.key").c_str(), 0600);
    std::ofstream site(dir + "/hub.toml");
    site << "[site]\nname = \"hub\"\nrole = \"hub\"\nuplinks = [\"wan0\"]\nkey_file = \"hub.key\"\n\n"
            "[[vlan]]\nname = \"Corp\"\nid = 10\nsubnet = \"10.0.1.0/24\"\nshareable = true\ninterface = \"lan0\"\n\n"
            "[autovpn]\ngroup = \"bench\"\nmembers = \"members.toml\"\n";
    std::ofstream m(dir + "/members.toml");
    m << "[group]\nname = \"bench\"\ntunnel_subnet = \"100.64.0.0/16\"\ntransport = \"xfrm\"\n\n"
      << "[[member]]\nname = \"hub\"\nrole = \"hub\"\npublic_key = \"" << crypto::base64_encode(hub_pub.data(), 32)
      << "\"\nexports = [\"10.0.1.0/24\"]\ncontact = \"" << kHubWan << ":" << kHubPort << "\"\n";
    for (size_t i = 0; i < spokes.size(); ++i)
        m << "\n[[member]]\nname = \"s" << i << "\"\nrole = \"spoke\"\npublic_key = \""
          << crypto::base64_encode(spokes[i].pub.data(), 32) << "\"\nexports = [\"10." << 128 + i / 256 << "."
          << i % 256 << ".0/24\"]\nhubs = [\"hub\"]\ncontact = \"" << dotted(spoke_address(i)) << ":" << kSpokePort
          << "\"\n";
    return bool(m) && bool(site);
}

// One UDP socket for all spokes: bound to the wildcard on kSpokePort, each
// datagram sent from its spoke's address (IP_PKTINFO), so the hub's per-
// source rate limit and its replies see 10,000 distinct sources.
struct SpokeSocket {
    int fd = -1;
    bool open() {
        fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int big = 64 << 20, on = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);  // the hub's keepalive bursts
        ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);        // which spoke a datagram is for
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(kSpokePort);
        return fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    bool send(uint32_t from, const keying::Bytes& bytes) const {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(kHubPort);
        ::inet_pton(AF_INET, kHubWan, &to.sin_addr);
        iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
        msghdr msg{};
        msg.msg_name = &to;
        msg.msg_namelen = sizeof to;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo info{};
        info.ipi_spec_dst.s_addr = htonl(from);
        std::memcpy(CMSG_DATA(c), &info, sizeof info);
        return ::sendmsg(fd, &msg, 0) == ssize_t(bytes.size());
    }
    // The next datagram, empty when none waits; `to` is the spoke address
    // it was sent to.
    keying::Bytes receive(uint32_t& to) const {
        keying::Bytes b(2048);
        iovec iov{b.data(), b.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd, &msg, 0);
        b.resize(n > 0 ? size_t(n) : 0);
        to = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                in_pktinfo info{};
                std::memcpy(&info, CMSG_DATA(c), sizeof info);
                to = ntohl(info.ipi_addr.s_addr);
            }
        return b;
    }
};

// What the spokes do, all from one loop: initiate when they have no session
// or their rotation is due, retry unanswered initiations, take cookies,
// confirm, keep alive.
struct SpokeState {
    Clock::time_point initiated{}, last_sent{}, rekey_at = Clock::time_point::max();
    bool pending = false;
    uint32_t epoch = 0;
};

struct Counts {
    size_t initiations = 0, retries = 0, cookies = 0, responses = 0, confirms = 0, keepalives = 0, hub_initiations = 0,
           hub_initiations_answered = 0, hub_keepalives = 0, send_failures = 0;
};

// The hub's CPU (its thread only) and wall time, summed over the calls into
// the site.
struct HubMeter {
    Cpu cpu;
    double wall = 0;
    template <class F>
    void run(F&& f) {
        Cpu c0 = cpu_now(RUSAGE_THREAD);
        auto w0 = Clock::now();
        f();
        wall += std::chrono::duration<double>(Clock::now() - w0).count();
        cpu += cpu_now(RUSAGE_THREAD) - c0;
    }
};

// From avpnd's own log lines: how many converges, and their time ("... in
// 12.3 ms"), so the share of the hub's time spent planning and applying shows.
struct LogCounts {
    size_t changes = 0, failures = 0, full = 0, down = 0;
    double change_ms = 0;
};

keying::Tai64n wall_tai64n() {
    timespec t{};
    ::clock_gettime(CLOCK_REALTIME, &t);
    return keying::tai64n_from_unix(uint64_t(t.tv_sec), uint32_t(t.tv_nsec));
}

// The SAs the kernel holds: all of them, and those leaving the hub.
struct SaCount {
    size_t total = 0, outbound = 0;
};
std::optional<SaCount> count_sas() {
    auto sock = nl::Socket::open(NETLINK_XFRM);
    if (!sock) return std::nullopt;
    auto sas = nl::dump_sas(*sock, {});
    if (!sas) return std::nullopt;
    SaCount c{sas->size(), 0};
    const IpAddr hub = *IpAddr::parse(kHubWan);
    for (const nl::XfrmSa& sa : *sas) c.outbound += sa.src == hub;
    return c;
}

bool check_sas(size_t n, const char* when) {
    auto c = count_sas();
    if (!c) {
        std::fprintf(stderr, "bench_keying_kernel: cannot dump the kernel's SAs\n");
        return false;
    }
    const bool ok = c->total == 2 * n && c->outbound == n;
    std::printf("%s: kernel holds %zu SAs (%zu outbound, %zu inbound); expected %zu and %zu: %s\n", when, c->total,
                c->outbound, c->total - c->outbound, n, n, ok ? "ok" : "WRONG");
    return ok;
}

void print_hub(const char* what, const HubMeter& m, double per_n, const char* per_what) {
    std::printf("%s: hub cpu %.2f s (user %.2f, sys %.2f = kernel %.0f %%), hub wall %.2f s", what, m.cpu.total(),
                m.cpu.user, m.cpu.sys, m.cpu.total() > 0 ? 100 * m.cpu.sys / m.cpu.total() : 0.0, m.wall);
    if (per_n > 0) std::printf("; %.2f ms cpu per %s", 1000 * m.cpu.total() / per_n, per_what);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // in order with avpnd's lines and the script's
    size_t n = 10000, wave = 128;
    int steady_s = 60;
    bool cold_tick = true;
    int hold_ms = runtime::SiteOptions{}.keying_hold_ms;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--wave" && i + 1 < argc) wave = size_t(std::atol(argv[++i]));
        else if (a == "--steady" && i + 1 < argc) steady_s = std::atoi(argv[++i]);
        else if (a == "--no-cold-tick") cold_tick = false;
        else if (a == "--hold" && i + 1 < argc) hold_ms = std::atoi(argv[++i]);
        else if (a[0] != '-') n = size_t(std::atol(a.c_str()));
        else {
            std::fprintf(stderr, "usage: bench_keying_kernel [SPOKES] [--wave N] [--steady SECONDS] [--no-cold-tick] [--hold MS]\n");
            return 2;
        }
    }
    if (n == 0 || n > 60000 || wave == 0) return 2;
    char dir[] = "/tmp/avpn-bench-keying-kernel-XXXXXX";
    if (!::mkdtemp(dir)) return 1;
    auto cleanup = [&] { (void)std::system((std::string("rm -rf ") + dir).c_str()); };

    // A hub key high enough that spoke keys below it are quick to find.
    crypto::Key32 hub_priv{}, hub_pub{};
    do {
        hub_priv = *crypto::generate_private_key();
        hub_pub = *crypto::public_key(hub_priv);
    } while (hub_pub[0] < 0xf0);
    Timer keygen;
    auto made = make_spokes(n, hub_pub, "bench", true);
    if (!made) return 1;
    std::vector<Spoke>& spokes = *made;
    if (!write_config(dir, hub_priv, hub_pub, spokes)) return 1;
    std::printf("spokes %zu: keys, initiators and the hub's config made in %.2f s\n", n, keygen.wall());

    LogCounts logged;
    size_t printed = 0;
    runtime::Log log = [&](const std::string& line) {
        if (line.rfind("change (", 0) == 0) {
            ++logged.changes;
            if (auto at = line.rfind(" in "); at != std::string::npos) logged.change_ms += std::atof(line.c_str() + at + 4);
        }
        if (line.rfind("full apply (", 0) == 0) ++logged.full;
        logged.down += line.find(": down (") != std::string::npos;
        const bool failed = line.find("failed") != std::string::npos;
        logged.failures += failed;
        if ((failed || line.rfind("xfrm: ", 0) != 0) && printed < 20 && line.rfind("change (", 0) != 0) {
            std::printf("  avpnd: %s\n", line.c_str());
            ++printed;
        }
    };
    runtime::SiteOptions so;
    so.config = std::string(dir) + "/hub.toml";
    so.state_dir = std::string(dir) + "/state";
    so.vici_socket = std::string(dir) + "/no-charon.vici";
    so.settle_seconds = 0;
    so.keying_hold_ms = hold_ms;
    std::printf("hub holds SA changes %d ms to share a converge\n", hold_ms);
    Timer open_t;
    auto opened = runtime::Site::open(so, log);
    if (!opened) {
        std::fprintf(stderr, "bench_keying_kernel: open the site: %s\n", opened.error().str().c_str());
        cleanup();
        return 1;
    }
    runtime::Site& hub = **opened;
    HubMeter start;
    bool started = false;
    start.run([&] { started = hub.converge(true, "start"); });
    std::printf("start: config loaded in %.2f s; ", open_t.wall() - start.wall);
    print_hub("first full apply (policies, no SAs)", start, 0, "");
    if (!started || hub.keying_fds().size() != 1) {
        std::fprintf(stderr, "bench_keying_kernel: the first apply failed\n");
        cleanup();
        return 1;
    }
    const int hub_fd = hub.keying_fds()[0];

    SpokeSocket net;
    if (!net.open()) {
        std::fprintf(stderr, "bench_keying_kernel: spoke socket: %s\n", std::strerror(errno));
        cleanup();
        return 1;
    }
    std::vector<SpokeState> st(n);
    std::unordered_map<uint32_t, size_t> by_index;  // a spoke's session index -> the spoke
    uint32_t next_index = 1;
    Counts counts;

    // One spoke's initiation (a first one, a retry or a rekey).
    auto initiate = [&](size_t i, Clock::time_point now) {
        SpokeState& s = st[i];
        const uint32_t index = next_index++;
        // Two SPIs a spoke, alternating per epoch, as the planner's layout does.
        const uint32_t spi = 0x40000000u | uint32_t(i) << 1 | (s.epoch + 1) % 2;
        auto bytes = spokes[i].init->start({index, spi, s.epoch + 1}, wall_tai64n(), now);
        if (!bytes) return;
        by_index[index] = i;
        counts.send_failures += !net.send(spoke_address(i), *bytes);
        counts.retries += s.pending;
        ++counts.initiations;
        s.pending = true;
        s.initiated = s.last_sent = now;
    };
    auto confirm = [&](size_t i, Clock::time_point now, size_t& counter) {
        auto bytes = keying::make_confirm(*spokes[i].session);
        if (!bytes) return;
        counts.send_failures += !net.send(spoke_address(i), *bytes);
        ++counter;
        st[i].last_sent = now;
    };
    // A spoke's responder, made when the hub first initiates to it.
    std::vector<std::optional<keying::Responder>> responders(n);
    auto responder = [&](size_t i) -> keying::Responder* {
        if (!responders[i]) {
            keying::ResponderConfig rc;
            rc.static_private = spokes[i].priv;
            rc.group = "bench";
            auto r = keying::Responder::create(std::move(rc), [&, i](const crypto::Key32&) -> Result<keying::LocalChoice> {
                // The hub is the spoke's only peer; SPIs as in initiate().
                const uint32_t spi = 0x40000000u | uint32_t(i) << 1 | (st[i].epoch + 1) % 2;
                return keying::LocalChoice{next_index++, spi, st[i].epoch + 1};
            });
            if (!r) return nullptr;
            responders[i].emplace(std::move(*r));
        }
        return &*responders[i];
    };
    // Everything waiting at the spokes' socket.
    auto spokes_read = [&](Clock::time_point now) {
        for (;;) {
            uint32_t to = 0;
            keying::Bytes d = net.receive(to);
            if (d.empty()) return;
            auto type = keying::peek_type(d);
            if (!type) continue;
            if (*type == uint8_t(keying::MessageType::response)) {
                auto r = keying::parse_response(d);
                auto it = r ? by_index.find(r->receiver) : by_index.end();
                if (it == by_index.end()) continue;
                const size_t i = it->second;
                by_index.erase(it);
                auto s = spokes[i].init->finish(d);
                if (!s) continue;
                spokes[i].session.emplace(std::move(*s));
                ++counts.responses;
                st[i].pending = false;
                ++st[i].epoch;
                confirm(i, now, counts.confirms);
            } else if (*type == uint8_t(keying::MessageType::cookie_reply)) {
                auto c = keying::parse_cookie_reply(d);
                auto it = c ? by_index.find(c->receiver) : by_index.end();
                if (it == by_index.end()) continue;
                const size_t i = it->second;
                by_index.erase(it);
                if (!spokes[i].init->take_cookie(d, now)) continue;
                ++counts.cookies;
                initiate(i, now);  // again at once, now with mac2
            } else if (*type == uint8_t(keying::MessageType::initiation)) {
                // The hub has no session with this spoke (its first wave
                // has not come, its confirm was lost and the hub dropped
                // the unconfirmed session after 15 s, or the hub marked it
                // down). As avpnd's PeerSession: a spoke whose own
                // initiation is pending ignores it (the leader's wins);
                // otherwise it answers, and the hub's handshake replaces
                // the spoke's session.
                ++counts.hub_initiations;
                const size_t i = size_t(to - spoke_address(0));
                if (to < spoke_address(0) || i >= n || st[i].pending) continue;
                auto r = responder(i);
                if (!r) continue;
                auto out = r->consume(d, Endpoint{*IpAddr::parse(kHubWan), kHubPort}, now);
                if (!out) continue;
                counts.send_failures += !net.send(spoke_address(i), out->reply);
                if (!out->session) continue;  // a cookie reply
                ++counts.hub_initiations_answered;
                spokes[i].session.emplace(std::move(*out->session));
                ++st[i].epoch;
                st[i].last_sent = now;
            } else {
                ++counts.hub_keepalives;
            }
        }
    };

    // The spokes run on a thread of their own (the second CPU), so that a
    // busy hub does not delay their keepalives and retries as it would in
    // one loop: the hub's peers are other machines. They talk to the hub
    // over UDP only; the hub's thread publishes the phase, the spokes'
    // thread its counts.
    enum Phase { cold_phase, steady_phase, drain_phase, stop_phase };
    std::atomic<int> phase{cold_phase};
    std::mutex counts_mutex;
    Counts published;
    auto counts_now = [&] {
        std::lock_guard<std::mutex> l(counts_mutex);
        return published;
    };
    std::thread spoke_thread([&] {
        size_t first_sent = 0;
        bool scheduled = false;
        while (phase.load() != stop_phase) {
            const auto now = Clock::now();
            const int ph = phase.load();
            if (ph == steady_phase && !scheduled) {
                // Each spoke's rotation falls somewhere in the next 600 s,
                // evenly: SPOKES/600 handshakes a second.
                for (size_t i = 0; i < n; ++i)
                    st[i].rekey_at = now + std::chrono::duration_cast<Clock::duration>(kRotation) * i / n;
                scheduled = true;
            }
            if (ph == drain_phase)
                for (SpokeState& x : st) x.rekey_at = Clock::time_point::max();
            // First initiations in waves: at most `wave` unanswered at once,
            // so the hub's socket buffer is not what limits the rate.
            size_t unanswered = 0;
            for (size_t i = 0; i < first_sent; ++i) unanswered += st[i].pending && st[i].epoch == 0;
            // (A spoke that already answered the hub's initiation has a
            // session and sends no first initiation.)
            for (; first_sent < n && unanswered < wave; ++first_sent)
                if (!spokes[first_sent].session) initiate(first_sent, now), ++unanswered;
            for (size_t i = 0; i < first_sent; ++i) {
                SpokeState& x = st[i];
                if (x.pending && now - x.initiated >= kRetry) initiate(i, now);
                else if (!x.pending && now >= x.rekey_at) {
                    x.rekey_at = Clock::time_point::max();
                    initiate(i, now);
                } else if (spokes[i].session && now - x.last_sent >= kKeepalive) {
                    confirm(i, now, counts.keepalives);
                }
            }
            {
                std::lock_guard<std::mutex> l(counts_mutex);
                published = counts;
            }
            pollfd p{net.fd, POLLIN, 0};
            ::poll(&p, 1, 2);
            spokes_read(Clock::now());
        }
    });

    // The hub's loop, as avpnd's: a keying tick every 250 ms; when the
    // socket is readable one read of at most 256 datagrams; SA changes held
    // up to keying_hold_ms and then one converge for all of them.
    Clock::time_point next_tick = Clock::now();
    auto pass = [&](HubMeter& m, bool tick = true) {
        auto now = Clock::now();
        if (tick && now >= next_tick) {
            m.run([&] { hub.keying_tick(); });
            next_tick = now + kTick;
            now = Clock::now();
        }
        if (auto at = hub.keying_flush_at(); at && *at <= now) {
            m.run([&] { hub.flush_keying(); });
            now = Clock::now();
        }
        auto wait = tick ? std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now).count() : 50;
        if (auto at = hub.keying_flush_at())
            wait = std::min<long long>(wait, std::chrono::ceil<std::chrono::milliseconds>(*at - now).count());
        pollfd p{hub_fd, POLLIN, 0};
        ::poll(&p, 1, int(std::max<long long>(0, std::min<long long>(wait, 250))));
        if (p.revents & POLLIN) m.run([&] { hub.keying_readable(); });
    };
    auto confirmed = [&] {
        size_t c = 0;
        for (const auto& s : hub.keying_status()) c += s.epoch >= 1;
        return c;
    };
    auto all_confirmed = [&] { return confirmed() == n; };

    // Cold: every spoke at once, the hub answering.
    HubMeter cold;
    const size_t changes0 = logged.changes;
    const double change_ms0 = logged.change_ms;
    Timer cold_t;
    auto next_check = Clock::now();
    // A line a minute: a 10,000-spoke cold phase under an emulated CPU ran
    // for more than 95 minutes without a word (docs/benchmarks.md).
    auto next_progress = Clock::now() + 60s;
    for (;;) {
        pass(cold, cold_tick);
        if (Clock::now() >= next_check) {
            // Every session up is not yet every outbound SA in the kernel:
            // the hub switches one when the spoke's confirm comes, and holds
            // that change up to 100 ms to share a converge (a quiet machine
            // once counted 997 of 1,000 here).
            if (all_confirmed()) {
                auto c = count_sas();
                if (c && c->outbound == n) break;
            }
            next_check = Clock::now() + 100ms;
        }
        if (Clock::now() >= next_progress) {
            const Counts c = counts_now();
            std::printf("cold, %.0f s: %zu of %zu peers confirmed; hub cpu %.1f s; %zu converges; the spokes saw %zu "
                        "initiations of the hub's (%zu answered) and sent %zu retries; the hub rejected %zu "
                        "datagrams (last: %s)\n",
                        cold_t.wall(), confirmed(), n, cold.cpu.total(), logged.changes - changes0,
                        c.hub_initiations, c.hub_initiations_answered, c.retries, hub.keying_rejected(),
                        hub.keying_last_rejected().c_str());
            std::fflush(stdout);
            next_progress = Clock::now() + 60s;
        }
        if (logged.failures > 0) break;
    }
    const double cold_wall = cold_t.wall();
    const size_t cold_changes = logged.changes - changes0;
    if (!cold_tick) std::printf("cold: the hub was not ticked (no initiations or keepalives of its own)\n");
    std::printf("cold: %zu handshakes answered and their SAs installed in %.2f s wall (bench, both sides)\n", n,
                cold_wall);
    print_hub("cold", cold, double(n), "handshake");
    std::printf("cold: %zu converges (%.1f handshakes each; avpnd applies once per socket read of up to 256 "
                "datagrams) took %.2f s wall of the hub's %.2f s (%.0f ms each)\n",
                cold_changes, cold_changes ? double(n) / double(cold_changes) : 0.0, (logged.change_ms - change_ms0) / 1000,
                cold.wall, cold_changes ? (logged.change_ms - change_ms0) / double(cold_changes) : 0.0);
    std::printf("cold: waves of %zu initiations; %zu spoke retries (5 s unanswered), %zu cookie replies; the hub sent "
                "%zu initiations of its own (every peer without a session, paced; %zu answered by a spoke not "
                "waiting for its own) and %zu keepalives\n",
                wave, counts_now().retries, counts_now().cookies, counts_now().hub_initiations,
                counts_now().hub_initiations_answered, counts_now().hub_keepalives);
    bool ok = logged.failures == 0 && check_sas(n, "cold");

    if (ok && steady_s > 0) {
        // Only the first minutes of the rotation run.
        const auto t0 = Clock::now();
        phase = steady_phase;
        HubMeter warm, measured, drain;
        const auto warmup = 25s, linger_out = 25s;
        const Counts c0 = counts_now();
        size_t changes_m = 0, c_before = 0;
        double change_ms_m = 0;
        Counts cm0{};
        while (Clock::now() - t0 < warmup) pass(warm);
        c_before = logged.changes;
        change_ms_m = logged.change_ms;
        cm0 = counts_now();
        Timer window;
        while (Clock::now() - t0 < warmup + std::chrono::seconds(steady_s)) pass(measured);
        const double window_s = window.wall();
        changes_m = logged.changes - c_before;
        change_ms_m = logged.change_ms - change_ms_m;
        const Counts cm = counts_now();
        // No new rotations: the last old inbound SAs linger out.
        phase = drain_phase;
        // ... and then until the kernel holds 2 SAs a peer again, or 2 more
        // minutes have passed (then the count below fails).
        const auto t1 = Clock::now();
        while (Clock::now() - t1 < linger_out) pass(drain);
        for (auto next = Clock::now(); Clock::now() - t1 < linger_out + 120s;) {
            pass(drain);
            if (Clock::now() < next) continue;
            auto c = count_sas();
            if (c && c->total == 2 * n && c->outbound == n) break;
            next = Clock::now() + 5s;
        }
        std::printf("steady: rekeys stopped; the old SAs were gone %.0f s later\n",
                    std::chrono::duration<double>(Clock::now() - t1).count());
        const size_t handshakes = cm.responses - cm0.responses;
        std::printf("steady (%d s rotation, %zu spokes: %.2f rekeys/s planned): %.0f s measured after %lld s warm-up: "
                    "%zu handshakes (%.2f/s), %zu keepalives from spokes (%.0f/s), %zu converges\n",
                    int(kRotation.count()), n, double(n) / double(kRotation.count()), window_s,
                    (long long)warmup.count(), handshakes, double(handshakes) / window_s,
                    cm.keepalives - cm0.keepalives, double(cm.keepalives - cm0.keepalives) / window_s, changes_m);
        print_hub("steady", measured, double(handshakes), "handshake (keepalives and ticks included)");
        std::printf("steady: converges took %.2f s wall of the hub's %.2f s (%.0f ms each)\n", change_ms_m / 1000,
                    measured.wall, changes_m ? change_ms_m / double(changes_m) : 0.0);
        std::printf("steady: hub %.2f %% of one core (user %.2f %%, sys %.2f %%)\n",
                    100 * measured.cpu.total() / window_s, 100 * measured.cpu.user / window_s,
                    100 * measured.cpu.sys / window_s);
        std::printf("steady window: the hub sent %zu initiations of its own and %zu keepalives; %zu spoke retries\n",
                    cm.hub_initiations - cm0.hub_initiations, cm.hub_keepalives - cm0.hub_keepalives,
                    cm.retries - cm0.retries);
        const Counts end = counts_now();
        std::printf("steady totals: %zu rekey handshakes, %zu retries, %zu cookie replies; %zu peers marked down\n",
                    end.responses - c0.responses, end.retries - c0.retries, end.cookies - c0.cookies, logged.down);
        ok = logged.failures == 0 && check_sas(n, "after the steady state and linger");
    }
    if (logged.failures > 0) std::printf("FAIL: %zu applies failed (see the avpnd lines above)\n", logged.failures);
    phase = stop_phase;
    spoke_thread.join();
    if (counts.send_failures > 0) std::printf("note: %zu spoke sends failed\n", counts.send_failures);
    ::close(net.fd);
    opened->reset();  // releases the state directory's lock
    cleanup();
    return ok ? 0 : 1;
}
