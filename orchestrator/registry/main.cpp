// avpn-registry --key FILE --members FILE [--listen ADDR:PORT] [--alternate ADDR:PORT]
// [--group-key GROUP=FILE]: serves the registry protocol (plugins/registry,
// docs/registry.md) on one UDP socket, and sends filtering probes from a
// second one with --alternate. This file is the I/O shell only: the socket, signals and a
// one-second tick around registry::Server. Logs to stderr.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>

#include "orchestrator/registry/options.hpp"
#include "orchestrator/registry/udp_socket.hpp"

using namespace avpn;
using namespace avpn::registry;

namespace {

constexpr int kUsageExit = 2;

// "avpn-registry: ARGUMENT: why" (options.cpp puts the argument in `where`).
void print_error(const Error& e) {
    std::fprintf(stderr, "avpn-registry: %s%s\n", e.where.empty() ? "" : (e.where + ": ").c_str(), e.why.c_str());
}
constexpr int kBatch = 256;  // datagrams per wakeup before timers and signals get a turn

int serve(Server& server, UdpSocket& socket, UdpSocket* alternate, int sigfd) {
    Time next_tick = Clock::now() + std::chrono::seconds(1);
    uint64_t send_failures = 0;
    auto send_all = [&](const std::vector<Outgoing>& out) {
        for (const Outgoing& o : out) {
            UdpSocket* from = o.from_alternate ? alternate : &socket;
            if (!from || !from->send(o.to, o.datagram)) ++send_failures;
        }
    };
    for (;;) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()).count();
        // The alternate only sends; what reaches it is read and dropped.
        pollfd fds[3] = {{socket.fd(), POLLIN, 0}, {sigfd, POLLIN, 0}, {alternate ? alternate->fd() : -1, POLLIN, 0}};
        if (poll(fds, 3, int(std::max<int64_t>(0, wait))) < 0 && errno != EINTR) {
            std::perror("avpn-registry: poll");
            return 1;
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo si;
            while (read(sigfd, &si, sizeof si) == sizeof si) {
                // heap_bytes: what the heap holds now (glibc's count), so the
                // memory per registered site can be read off a running registry.
                std::fprintf(stderr, "%s send_failures=%llu heap_bytes=%zu\n", server.stats_line().c_str(),
                             static_cast<unsigned long long>(send_failures), mallinfo2().uordblks);
                if (si.ssi_signo != SIGUSR1) {
                    std::fprintf(stderr, "avpn-registry: stopping on signal %u\n", si.ssi_signo);
                    return 0;
                }
            }
        }
        if (fds[2].revents & POLLIN)
            for (int i = 0; i < kBatch; ++i) {
                auto d = alternate->receive();
                if (!d || !*d) break;
            }
        if (fds[0].revents & POLLIN) {
            for (int i = 0; i < kBatch; ++i) {
                auto d = socket.receive();
                if (!d) {
                    std::fprintf(stderr, "avpn-registry: %s\n", d.error().str().c_str());
                    break;
                }
                if (!*d) break;
                auto out = server.on_datagram((*d)->bytes, (*d)->from, Clock::now());
                if (out) send_all(*out);  // a rejection is counted by the server and answered with nothing
            }
        }
        const Time now = Clock::now();
        if (now >= next_tick) {
            send_all(server.tick(now));
            next_tick = now + std::chrono::seconds(1);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto o = parse_options(args);
    if (!o) {
        print_error(o.error());
        std::fputs(kUsage, stderr);
        return kUsageExit;
    }
    if (o->help) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (o->version) {
        std::printf("avpn-registry %s\n", AVPN_VERSION);
        return 0;
    }
    if (o->credentials) {
        const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
        if (!dir || !*dir) {
            print_error(Error{"avpn-registry", "--credentials",
                              "$CREDENTIALS_DIRECTORY is not set: --credentials is for avpn-registry.service "
                              "(LoadCredential=); elsewhere give --key and --members"});
            return kUsageExit;
        }
        auto from = options_from_credentials(*o, dir);
        if (!from) {
            print_error(from.error());
            return 1;
        }
        o = std::move(*from);
    }
    auto config = load_server_config(*o);
    if (!config) {
        print_error(config.error());
        return 1;
    }
    std::string groups;
    for (const GroupMembers& g : config->groups)
        groups += (groups.empty() ? "" : ", ") + g.name + " (" + std::to_string(g.members.size()) + " members" +
                  (g.psk == Key32{} ? ", no group key" : ", group key") + ")";
    // Bound before the server exists: with port 0 the server must name the
    // port the kernel chose in its answers.
    std::optional<UdpSocket> alternate;
    if (o->alternate) {
        auto a = UdpSocket::bind(*o->alternate);
        if (!a) {
            std::fprintf(stderr, "avpn-registry: --alternate: %s\n", a.error().str().c_str());
            return 1;
        }
        alternate.emplace(std::move(*a));
        config->alternate = alternate->local();
    }
    auto server = Server::create(std::move(*config));
    if (!server) {
        std::fprintf(stderr, "avpn-registry: %s\n", server.error().str().c_str());
        return 1;
    }
    // Parsing the member lists peaks far above what the server keeps
    // (100,000 members: ~150 MB against ~20 MB); give it back.
    malloc_trim(0);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        std::perror("avpn-registry: signalfd");
        return 1;
    }
    auto socket = UdpSocket::bind(o->listen);
    if (!socket) {
        std::fprintf(stderr, "avpn-registry: %s\n", socket.error().str().c_str());
        return 1;
    }
    std::fprintf(stderr, "avpn-registry: listening on %s, public key %s, groups %s%s\n", socket->local().str().c_str(),
                 crypto::base64_encode(server->static_public().data(), 32).c_str(), groups.c_str(),
                 alternate ? (", filtering probes from " + alternate->local().str()).c_str() : "");
    return serve(*server, *socket, alternate ? &*alternate : nullptr, sigfd);
}
