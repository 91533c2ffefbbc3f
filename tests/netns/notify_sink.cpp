// notify_sink ADDRESS FILE: stands in for systemd's manager in tests. Binds a
// datagram socket at ADDRESS (a path, or @name for an abstract socket, as
// $NOTIFY_SOCKET spells them), creates FILE once bound, then appends one
// line per datagram (its assignments separated by tabs) until SIGTERM.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: notify_sink ADDRESS FILE\n");
        return 2;
    }
    std::string where = argv[1];
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (where.size() < 2 || where.size() >= sizeof a.sun_path) return std::fprintf(stderr, "bad address\n"), 2;
    std::memcpy(a.sun_path, where.data(), where.size());
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + where.size() + 1);
    if (where[0] == '@') {
        a.sun_path[0] = '\0';
        len -= 1;  // abstract: exactly the name's bytes
    } else {
        ::unlink(where.c_str());
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
        std::perror("notify_sink: bind");
        return 1;
    }
    FILE* out = std::fopen(argv[2], "a");
    if (!out) return std::perror("notify_sink: open FILE"), 1;
    ::signal(SIGTERM, [](int) { _exit(0); });
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) continue;
        std::string line(buf, size_t(n));
        for (char& c : line)
            if (c == '\n') c = '\t';
        std::fprintf(out, "%s\n", line.c_str());
        std::fflush(out);
    }
}
