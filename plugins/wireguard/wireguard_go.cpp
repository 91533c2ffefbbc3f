#include "plugins/wireguard/wireguard_go.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "plugins/wireguard/uapi_conn.hpp"

extern char** environ;

namespace avpn::wg {

namespace {

using Clock = std::chrono::steady_clock;

// Everything the child needs, prepared before fork(): after it, only
// async-signal-safe calls are made.
struct LaunchPlan {
    std::string program_path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::string log_path;
    std::string netns_path;
};

Result<std::string> find_program(const std::string& program, const char* hint) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    for (size_t pos = 0; pos <= dirs.size();) {
        size_t end = dirs.find(':', pos);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(pos, end - pos) + "/" + program;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
        pos = end + 1;
    }
    return Error{"start wireguard-go", program, std::string("not found in PATH (") + hint + ")"};
}

Result<LaunchPlan> plan_launch(const std::string& ifname, const WireguardGoOptions& o) {
    auto daemon = find_program(o.program, "install the wireguard-go package");
    if (!daemon) return daemon.error();
    bool own_scope = o.own_scope.value_or(running_as_systemd_unit());
    LaunchPlan p{.program_path = *daemon, .args = wireguard_go_argv(ifname, *daemon, o, own_scope)};
    if (own_scope) {
        auto run = find_program(o.systemd_run, "it gives wireguard-go a scope of its own under systemd");
        if (!run) return run.error();
        p.program_path = *run;
    }
    for (char** e = environ; *e; ++e) {
        std::string_view var = *e;
        if (!o.log_level.empty() && var.starts_with("LOG_LEVEL=")) continue;
        p.env.emplace_back(var);
    }
    if (!o.log_level.empty()) p.env.push_back("LOG_LEVEL=" + o.log_level);
    for (auto& a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    for (auto& e : p.env) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
    p.log_path = o.log_path.empty() ? "/dev/null" : o.log_path;
    p.netns_path = o.netns_path;
    return p;
}

void write_all(int fd, const void* data, size_t n) {
    while (write(fd, data, n) < 0 && errno == EINTR) {
    }
}

// exec keeps the signal mask and every ignored signal, and avpnd blocks
// SIGHUP/SIGTERM/SIGINT (its signalfd) and ignores SIGPIPE: without this a
// daemon would start deaf to `kill` and blind to broken pipes. Go's runtime
// happens to repair both for itself; systemd-run or another userspace
// WireGuard need not. sigaction() refuses SIGKILL, SIGSTOP and the C
// library's own signals, which is fine.
void reset_signals() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; ++s) (void)sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Only stdio goes to the daemon. avpn opens its own descriptors CLOEXEC, but
// whatever avpn was started with (a leaked fd of its parent, a systemd
// socket) would otherwise live on in a daemon that outlives avpn.
void close_on_exec_above_stdio() {
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
    rlimit lim{};  // kernels before 5.11: one fcntl per possible descriptor
    int last = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < (1u << 20) ? int(lim.rlim_cur) : (1 << 20);
    for (int fd = 3; fd < last; ++fd) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// The grandchild: clean signals, detach stdio, enter the namespace, exec. On
// failure the errno goes up the report pipe (closed by a successful exec:
// CLOEXEC).
[[noreturn]] void exec_daemon(const LaunchPlan& p, int report_fd) {
    reset_signals();
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int log_fd = open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int err = 0;
    if (null_fd < 0 || log_fd < 0) err = errno;
    if (!err && (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)) err = errno;
    close_on_exec_above_stdio();
    if (!err && !p.netns_path.empty()) {
        int ns = open(p.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) err = errno;
    }
    if (!err) {
        execve(p.program_path.c_str(), p.argv.data(), p.envp.data());
        err = errno;
    }
    write_all(report_fd, &err, sizeof err);
    _exit(127);
}

// Forks twice; returns the grandchild's pid once it has exec'd.
Result<pid_t> spawn_detached(const LaunchPlan& p, const std::string& ifname) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        return Error{"start wireguard-go", ifname, std::strerror(err), err};
    }
    pid_t mid = fork();
    if (mid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return Error{"start wireguard-go", ifname, std::string("fork: ") + std::strerror(err), err};
    }
    if (mid == 0) {
        close(fds[0]);
        setsid();
        pid_t daemon = fork();
        if (daemon == 0) exec_daemon(p, fds[1]);
        write_all(fds[1], &daemon, sizeof daemon);
        _exit(daemon < 0 ? 1 : 0);
    }
    close(fds[1]);
    int wstatus = 0;
    while (waitpid(mid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    pid_t daemon = -1;
    int exec_err = 0;
    bool got_pid = read(fds[0], &daemon, sizeof daemon) == sizeof daemon && daemon > 0;
    ssize_t n = got_pid ? read(fds[0], &exec_err, sizeof exec_err) : 0;
    close(fds[0]);
    if (!got_pid) return Error{"start wireguard-go", ifname, "fork of the daemon failed"};
    if (n == sizeof exec_err)
        return Error{"start wireguard-go", ifname, p.program_path + ": " + std::strerror(exec_err), exec_err};
    return daemon;
}

// Alive and not a zombie (an orphan is reaped by init, or not, depending on
// what runs as PID 1).
bool process_alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content;
    if (!std::getline(stat, content)) return false;
    size_t paren = content.rfind(')');
    return paren != std::string::npos && paren + 2 < content.size() && content[paren + 2] != 'Z';
}

bool wait_gone(pid_t pid, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (process_alive(pid)) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

// A caller that is a child subreaper (avpnd) is the daemon's parent and must
// reap it; for anyone else the daemon is init's and nothing is learnt ("").
// The thread group leader of a multi-threaded daemon (Go's runtime) shows as
// a zombie while its other threads still exit, and is only waitable after
// them: waited for, bounded.
std::string reap_exit_text(pid_t pid) {
    int wstatus = 0;
    auto deadline = Clock::now() + std::chrono::milliseconds(1000);
    for (;;) {
        pid_t r = waitpid(pid, &wstatus, WNOHANG);
        if (r == pid) return ", " + exit_text(wstatus);
        if (r != 0 && errno != EINTR) return "";  // not our child
        if (Clock::now() >= deadline) return "";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string log_hint(const WireguardGoOptions& o) {
    return o.log_path.empty() ? " (set a log path to see its output)" : " (see " + o.log_path + ")";
}

// A socket left behind by a daemon that died (kill -9) would be taken for
// the new daemon's: removed when nobody answers on it. A daemon whose TUN
// device was just deleted (a link replaced, an apply undone) exits by itself
// but still answers for a moment: it is given up to 2 s to go.
Status clear_stale_socket(const std::string& socket_dir, const std::string& ifname) {
    if (!uapi_socket_exists(socket_dir, ifname)) return {};
    std::string path = uapi_socket_path(socket_dir, ifname);
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (UapiConnection::open(path, ifname, UapiLimits{.timeout_ms = 200})) {
        if (Clock::now() >= deadline) return Error{"start wireguard-go", ifname, "a daemon already serves " + path};
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
        int err = errno;
        return Error{"start wireguard-go", ifname, "cannot remove stale " + path + ": " + std::strerror(err), err};
    }
    return {};
}

}  // namespace

std::string exit_text(int wstatus) {
    if (WIFEXITED(wstatus)) return "status " + std::to_string(WEXITSTATUS(wstatus));
    if (!WIFSIGNALED(wstatus)) return "status unknown";
    const char* name = sigabbrev_np(WTERMSIG(wstatus));
    std::string text = name ? std::string("signal SIG") + name : "signal " + std::to_string(WTERMSIG(wstatus));
    return WCOREDUMP(wstatus) ? text + ", core dumped" : text;
}

bool running_as_systemd_unit() {
    const char* invocation = getenv("INVOCATION_ID");
    return invocation && *invocation && access("/run/systemd/system", F_OK) == 0;
}

std::vector<std::string> wireguard_go_argv(const std::string& ifname, const std::string& daemon_path,
                                           const WireguardGoOptions& o, bool own_scope) {
    if (!own_scope) return {o.program, "-f", ifname};
    // A name of systemd's choosing (run-r<random>.scope): a fixed name per
    // interface would make a quick restart collide with the old scope while
    // systemd still unloads it. --collect unloads a scope whose daemon was
    // killed instead of keeping it as a failed unit.
    return {o.systemd_run, "--scope", "--collect", "--description=avpn: wireguard-go for " + ifname, "--",
            daemon_path, "-f", ifname};
}

// wireguard-go creates its UAPI socket file a moment before it accepts on
// it: a connect in between is refused (seen as a failed apply under load).
// Ready means a connect succeeds; the empty connection is closed at once,
// which the daemon reads as a client that left.
static bool uapi_accepts(const std::string& socket_dir, const std::string& ifname) {
    if (!uapi_socket_exists(socket_dir, ifname)) return false;
    const std::string path = uapi_socket_path(socket_dir, ifname);
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return true;  // the real connect reports it
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return true;
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno != ECONNREFUSED;
    ::close(fd);
    return ok;
}

Result<pid_t> start_wireguard_go(const std::string& ifname, const WireguardGoOptions& options) {
    if (Status st = check_ifname(ifname); !st) return st.error();
    if (Status st = clear_stale_socket(options.socket_dir, ifname); !st) return st.error();
    auto plan = plan_launch(ifname, options);
    if (!plan) return plan.error();
    auto pid = spawn_detached(*plan, ifname);
    if (!pid) return pid.error();
    auto deadline = Clock::now() + std::chrono::milliseconds(options.start_timeout_ms);
    while (!uapi_accepts(options.socket_dir, ifname)) {
        if (!process_alive(*pid))
            return Error{"start wireguard-go", ifname,
                         "the daemon exited before creating its UAPI socket" + reap_exit_text(*pid) +
                             log_hint(options)};
        if (Clock::now() >= deadline) {
            (void)stop_wireguard_go(*pid);
            (void)reap_exit_text(*pid);
            return Error{"start wireguard-go", ifname,
                         "no UAPI socket after " + std::to_string(options.start_timeout_ms) + " ms" + log_hint(options)};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return *pid;
}

Result<pid_t> running_wireguard_go(const std::string& ifname, const std::string& socket_dir) {
    if (Status st = check_ifname(ifname); !st) return st.error();
    if (!uapi_socket_exists(socket_dir, ifname))
        return Error{"find wireguard-go", ifname, "no UAPI socket in " + socket_dir};
    auto conn = UapiConnection::open(uapi_socket_path(socket_dir, ifname), ifname, UapiLimits{.timeout_ms = 200});
    if (!conn) return conn.error();
    return conn->peer_pid();
}

Status stop_wireguard_go(pid_t pid, int timeout_ms) {
    std::string who = "pid " + std::to_string(pid);
    if (pid <= 0) return Error{"stop wireguard-go", who, "not a process id"};
    for (int sig : {SIGTERM, SIGKILL}) {
        if (kill(pid, sig) != 0 && errno != ESRCH) {
            int err = errno;
            return Error{"stop wireguard-go", who, std::strerror(err), err};
        }
        if (wait_gone(pid, timeout_ms)) return {};
    }
    return Error{"stop wireguard-go", who, "still running after SIGKILL"};
}

}  // namespace avpn::wg
