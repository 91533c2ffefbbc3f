// A stand-in for wireguard-go in the supervision tests: `fake_wireguard_go
// -f IFNAME` listens on $AVPN_FAKE_UAPI_DIR/IFNAME.sock (so avpn finds it by
// its socket's peer credentials) and accepts and closes connections until it
// is killed. It changes no signal state, so /proc/<pid>/status shows what it
// was started with.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    const char* dir = std::getenv("AVPN_FAKE_UAPI_DIR");
    if (argc != 3 || std::strcmp(argv[1], "-f") != 0 || !dir) {
        std::fprintf(stderr, "usage: AVPN_FAKE_UAPI_DIR=DIR fake_wireguard_go -f IFNAME\n");
        return 2;
    }
    std::string path = std::string(dir) + "/" + argv[2] + ".sock";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path.c_str());
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) {
        std::perror(path.c_str());
        return 1;
    }
    for (;;) {
        int c = accept(fd, nullptr, nullptr);
        if (c >= 0) close(c);
    }
}
