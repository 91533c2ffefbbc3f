// Stands in for a program avpn starts (PATH puts it first under that
// program's name): appends what the kernel handed it at exec — its pid, its
// signal mask, its ignored signals and its open descriptors — to the file
// $AVPN_EXEC_PROBE_OUT, then execs $AVPN_EXEC_PROBE_REAL with the same pid,
// argv and environment. The real program can not show this itself: Go's
// runtime rewrites the mask and dispositions of a wireguard-go at start.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

extern char** environ;

int main(int argc, char** argv) {
    (void)argc;
    const char* out = std::getenv("AVPN_EXEC_PROBE_OUT");
    const char* real = std::getenv("AVPN_EXEC_PROBE_REAL");
    if (!out || !real) {
        std::fprintf(stderr, "exec_probe: AVPN_EXEC_PROBE_OUT and AVPN_EXEC_PROBE_REAL must be set\n");
        return 127;
    }
    std::string line = "pid " + std::to_string(getpid());
    std::ifstream status("/proc/self/status");
    for (std::string s; std::getline(status, s);)
        if (s.starts_with("SigBlk:") || s.starts_with("SigIgn:")) line += " " + s.substr(0, 6) + " " + s.substr(s.find_first_not_of(" \t", 7));
    status.close();
    line += " fds";
    if (DIR* d = opendir("/proc/self/fd")) {
        while (const dirent* e = readdir(d)) {
            if (e->d_name[0] == '.' || std::atoi(e->d_name) == dirfd(d)) continue;
            char target[256] = "?";
            ssize_t n = readlink(("/proc/self/fd/" + std::string(e->d_name)).c_str(), target, sizeof target - 1);
            if (n >= 0) target[n] = 0;
            line += " " + std::string(e->d_name) + "=" + target;
        }
        closedir(d);
    }
    if (FILE* f = std::fopen(out, "a")) {
        std::fprintf(f, "%s\n", line.c_str());
        std::fclose(f);
    }
    execve(real, argv, environ);
    std::perror(real);
    return 127;
}
