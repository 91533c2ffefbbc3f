// One measurement in a forked child, so the peak RSS wait4 reports is that
// measurement's alone (not the parent's, nor an earlier case's).
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <type_traits>

namespace avpn::bench {

// Runs measure() -> Figures in a child; Figures travel back through a pipe
// as bytes, so they must be trivially copyable. False when the child failed
// or died before reporting.
template <class Figures, class Measure>
bool measure_in_child(Measure&& measure, Figures& f, long& peak_kb) {
    static_assert(std::is_trivially_copyable_v<Figures>);
    int fds[2];
    if (pipe(fds) != 0) return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        Figures mine = measure();
        ssize_t n = write(fds[1], &mine, sizeof mine);
        _exit(n == ssize_t(sizeof mine) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], &f, sizeof f);
    close(fds[0]);
    int status = 0;
    rusage u{};
    if (wait4(pid, &status, 0, &u) != pid) return false;
    peak_kb = u.ru_maxrss;
    return n == ssize_t(sizeof f) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace avpn::bench
