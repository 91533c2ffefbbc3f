#include "plugins/wireguard/supervisor.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace avpn::wg {

namespace {

int pidfd_open(pid_t pid) { return int(syscall(SYS_pidfd_open, pid, 0)); }

std::string daemon_of(const std::string& ifname, pid_t pid) {
    return "wireguard-go for " + ifname + " (pid " + std::to_string(pid) + ")";
}

// A daemon that exits while avpn waits to start its successor is on its way
// out already (its link is gone, and wireguard-go leaves with its TUN device).
constexpr int kExitGraceMs = 1000;

}  // namespace

Result<std::unique_ptr<Supervisor>> Supervisor::open(SupervisorOptions options) {
    if (options.reap_children && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        int err = errno;
        return Error{"supervise wireguard-go", "PR_SET_CHILD_SUBREAPER", std::strerror(err), err};
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        int err = errno;
        return Error{"supervise wireguard-go", "epoll", std::strerror(err), err};
    }
    std::unique_ptr<Supervisor> s(new Supervisor(std::move(options), ep));
    if (!s->options_.record_path.empty()) s->earlier_ = load_daemon_records(s->options_.record_path);
    return s;
}

Supervisor::Supervisor(SupervisorOptions options, int epoll_fd) : options_(std::move(options)), epoll_fd_(epoll_fd) {}

Supervisor::~Supervisor() {
    for (auto& [ifname, w] : watched_) ::close(w.pidfd);
    for (const Watched& w : leaving_) ::close(w.pidfd);
    ::close(epoll_fd_);
}

void Supervisor::log(const std::string& line) const {
    if (options_.log) options_.log(line);
}

void Supervisor::save() {
    if (options_.record_path.empty()) return;
    if (Status s = save_daemon_records(options_.record_path, records_); !s)
        log("record wireguard-go daemons: " + s.error().str());
}

bool Supervisor::watch(const std::string& ifname, pid_t pid, bool child) {
    int fd = pidfd_open(pid);
    if (fd < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        return false;
    }
    watched_[ifname] = Watched{pid, fd, child};
    // The history an earlier avpnd kept goes on where its daemon still runs
    // or was restarted here; interfaces never seen again drop out.
    auto [r, fresh] = records_.try_emplace(ifname);
    if (auto e = earlier_.find(ifname); fresh && e != earlier_.end()) r->second = e->second;
    r->second.pid = pid;
    return true;
}

void Supervisor::unwatch(const std::string& ifname) {
    auto it = watched_.find(ifname);
    if (it == watched_.end()) return;
    (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.pidfd, nullptr);
    ::close(it->second.pidfd);
    watched_.erase(it);
}

// A child avpn no longer counts on (its link deleted, or replaced while it
// hung) would stay a zombie of avpnd's once it exits, so its pidfd stays in
// the epoll set until reap() collects it.
void Supervisor::let_go(const std::string& ifname) {
    auto it = watched_.find(ifname);
    if (it == watched_.end()) return;
    if (!it->second.child) return unwatch(ifname);
    leaving_.push_back(it->second);
    watched_.erase(it);
}

bool Supervisor::has_exited(const Watched& w, int wait_ms) const {
    pollfd p{w.pidfd, POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, wait_ms)) < 0 && errno == EINTR) {
    }
    return n > 0;
}

void Supervisor::collect(const std::string& ifname) {
    const Watched w = watched_.at(ifname);
    Exit e{w.pid, "status unknown, not avpnd's child", int64_t(std::time(nullptr))};
    int wstatus = 0;
    if (w.child && waitpid(w.pid, &wstatus, WNOHANG) == w.pid) e.how = exit_text(wstatus);
    unwatch(ifname);
    exited_[ifname] = e;
    records_[ifname].pid = 0;
    save();
}

bool Supervisor::reap() {
    std::erase_if(leaving_, [this](const Watched& w) {
        if (!has_exited(w, 0)) return false;
        (void)waitpid(w.pid, nullptr, WNOHANG);
        (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, w.pidfd, nullptr);
        ::close(w.pidfd);
        return true;
    });
    std::vector<std::string> gone;
    for (const auto& [ifname, w] : watched_)
        if (has_exited(w, 0)) gone.push_back(ifname);
    for (const std::string& ifname : gone) collect(ifname);
    return !gone.empty();
}

void Supervisor::adopt(const std::string& ifname) {
    if (watched_.count(ifname)) return;
    auto pid = running_wireguard_go(ifname, options_.launch.socket_dir);
    if (!pid || !watch(ifname, *pid, false)) return;
    log("adopted " + daemon_of(ifname, *pid) + ": it keeps running, with its sessions");
    save();
}

void Supervisor::release(const std::string& ifname) {
    let_go(ifname);
    exited_.erase(ifname);
    earlier_.erase(ifname);
    if (records_.erase(ifname)) save();
}

Result<pid_t> Supervisor::start(const std::string& ifname) {
    if (auto it = watched_.find(ifname); it != watched_.end() && has_exited(it->second, kExitGraceMs))
        collect(ifname);
    // The daemon an earlier avpnd watched is gone, and nobody saw how.
    if (auto e = earlier_.find(ifname); e != earlier_.end() && e->second.pid > 0 && !records_.count(ifname))
        exited_[ifname] = Exit{e->second.pid, "status unknown, while no avpnd watched it", int64_t(std::time(nullptr))};
    auto pid = start_wireguard_go(ifname, options_.launch);
    auto exit = exited_.find(ifname);
    if (!pid) {
        if (exit != exited_.end())
            log(daemon_of(ifname, exit->second.pid) + " exited (" + exit->second.how +
                "): restart failed: " + pid.error().str());
        return pid.error();
    }
    let_go(ifname);  // one that never left has lost its socket to the new daemon
    (void)watch(ifname, *pid, options_.reap_children);
    DaemonRecord& r = records_[ifname];  // made by watch() unless pidfd_open failed
    r.pid = *pid;
    if (exit != exited_.end()) {
        ++r.restarts;
        r.last_exit = exit->second.how;
        r.last_exit_at = exit->second.at;
        log(daemon_of(ifname, exit->second.pid) + " exited (" + exit->second.how + "): restarted as pid " +
            std::to_string(*pid));
        exited_.erase(exit);
    }
    save();
    return *pid;
}

}  // namespace avpn::wg
