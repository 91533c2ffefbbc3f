// main() of the netns-tier test binaries: each runs in a network namespace of
// its own, so nothing it does can touch the host's networking, and the kernel
// tears everything down when the process exits — even after a failed assert.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

bool bring_up_loopback() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    close(fd);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (geteuid() != 0) {
        std::printf("SKIP: %s needs root (network namespaces)\n", argv[0]);
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        std::printf("SKIP: unshare(CLONE_NEWNET) failed: %s\n", std::strerror(errno));
        return 77;
    }
    if (!bring_up_loopback()) {
        std::printf("SKIP: cannot bring up lo in the new namespace\n");
        return 77;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
