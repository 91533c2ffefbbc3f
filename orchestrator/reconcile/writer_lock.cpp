#include "orchestrator/reconcile/writer_lock.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace avpn {

namespace {

socklen_t abstract_address(sockaddr_un& a) {
    std::memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = std::strlen(kWriterLockName);
    std::memcpy(a.sun_path + 1, kWriterLockName, n);  // sun_path[0] = 0: abstract
    return socklen_t(offsetof(sockaddr_un, sun_path) + 1 + n);
}

Error sys_error(std::string what, int err) {
    Error e{std::move(what), std::string("@") + kWriterLockName, std::strerror(err)};
    e.code = err;
    return e;
}

std::string process_name(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name.empty() ? "a process" : name;
}

}  // namespace

WriterLock::~WriterLock() {
    if (fd_ >= 0) ::close(fd_);
}

Status WriterLock::acquire() {
    if (fd_ >= 0) return {};
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("writer lock: socket", errno);
    sockaddr_un a;
    socklen_t len = abstract_address(a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
        int err = errno;
        ::close(fd);
        if (err != EADDRINUSE) return sys_error("writer lock: bind", err);
        pid_t holder = writer_lock_holder();
        Error e{"locked", std::string("@") + kWriterLockName,
                "another avpn writer is changing this network namespace" +
                    (holder > 0 ? ": " + process_name(holder) + " (pid " + std::to_string(holder) + ")"
                                : std::string())};
        e.code = EADDRINUSE;
        return e;
    }
    // Listening lets a refused writer learn who holds it (SO_PEERCRED of a
    // connection that is never accepted carries the listener's credentials).
    if (::listen(fd, 4) != 0) {
        int err = errno;
        ::close(fd);
        return sys_error("writer lock: listen", err);
    }
    fd_ = fd;
    return {};
}

pid_t writer_lock_holder() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return 0;
    sockaddr_un a;
    socklen_t len = abstract_address(a);
    pid_t pid = 0;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), len) == 0) {
        ucred cred{};
        socklen_t cl = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) pid = cred.pid;
    }
    ::close(fd);
    return pid;
}

}  // namespace avpn
