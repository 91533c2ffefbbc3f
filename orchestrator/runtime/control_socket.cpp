#include "orchestrator/runtime/control_socket.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace avpn::runtime {

namespace {

Error sys(std::string what, const std::string& where, int err) {
    return Error{std::move(what), where, std::strerror(err), err};
}

Result<gid_t> group_id(const std::string& name) {
    std::vector<char> buf(16384);
    group g{};
    group* found = nullptr;
    int rc;
    while ((rc = getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1u << 22))
        buf.resize(buf.size() * 2);
    if (rc != 0) return sys("look up group", name, rc);
    if (!found) return Error{"look up group", "--control-group", "no group named '" + name + "'"};
    return g.gr_gid;
}

Result<sockaddr_un> address_of(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path)
        return Error{"control socket", path, "a unix socket path must be 1.." + std::to_string(sizeof a.sun_path - 1) +
                                                 " bytes"};
    std::memcpy(a.sun_path, path.data(), path.size());
    return a;
}

// Supplementary groups from /proc/PID/status, for kernels without SO_PEERGROUPS.
std::vector<gid_t> proc_groups(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    std::vector<gid_t> out;
    while (std::getline(in, line))
        if (line.rfind("Groups:", 0) == 0) {
            std::istringstream g(line.substr(7));
            for (unsigned long v; g >> v;) out.push_back(gid_t(v));
        }
    return out;
}

// Is a live process answering on PATH? ECONNREFUSED: a socket nobody listens on.
Result<bool> answers(const sockaddr_un& a, const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys("socket", path, errno);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    int err = errno;
    ::close(fd);
    if (rc == 0) return true;
    if (err == ECONNREFUSED) return false;
    return sys("probe the control socket", path, err);
}

}  // namespace

Result<Peer> peer_of(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return sys("SO_PEERCRED", "control socket", errno);
    Peer p{cred.pid, cred.uid, cred.gid, {}};
    std::vector<gid_t> groups(64);
    for (;;) {
        socklen_t glen = socklen_t(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
            groups.resize(glen / sizeof(gid_t));
            p.groups = std::move(groups);
            return p;
        }
        if (errno == ERANGE && glen / sizeof(gid_t) > groups.size() && groups.size() < 65536) {
            groups.resize(glen / sizeof(gid_t));
            continue;
        }
        break;
    }
    p.groups = proc_groups(p.pid);
    return p;
}

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(const ControlSocketOptions& o) {
    auto addr = address_of(o.path);
    if (!addr) return addr.error();
    std::unique_ptr<ControlSocket> s(new ControlSocket());
    s->path_ = o.path;
    s->group_name_ = o.group;
    if (!o.group.empty()) {
        auto gid = group_id(o.group);
        if (!gid) return gid.error();
        s->group_ = *gid;
    }
    size_t slash = o.path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "" : o.path.substr(0, slash);
    if (!dir.empty() && ::mkdir(dir.c_str(), 0755) == 0) ::chmod(dir.c_str(), 0755);  // despite the umask
    else if (!dir.empty() && errno != EEXIST) return sys("create the control socket's directory", dir, errno);

    std::string lock = o.path + ".lock";
    s->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd_ < 0) return sys("open", lock, errno);
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? Error{"locked", o.path, "another avpnd serves this control socket", EWOULDBLOCK}
                                    : sys("lock", lock, errno);

    struct stat st {};
    if (::lstat(o.path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return Error{"control socket", o.path, "exists and is not a socket; not removing it"};
        auto live = answers(*addr, o.path);
        if (!live) return live.error();
        if (*live) return Error{"locked", o.path, "another avpnd answers on this control socket", EADDRINUSE};
        if (::unlink(o.path.c_str()) != 0) return sys("remove the stale control socket", o.path, errno);
    } else if (errno != ENOENT) {
        return sys("stat", o.path, errno);
    }

    s->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->fd_ < 0) return sys("socket", o.path, errno);
    mode_t old = ::umask(0177);  // born 0600: never briefly open to others
    int rc = ::bind(s->fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    int err = errno;
    ::umask(old);
    if (rc != 0) return sys("bind", o.path, err);
    if (::stat(o.path.c_str(), &st) != 0) return sys("stat", o.path, errno);
    s->dev_ = st.st_dev;  // from here on the destructor removes the file
    s->ino_ = st.st_ino;
    if (s->group_ && (::chown(o.path.c_str(), uid_t(-1), *s->group_) != 0 || ::chmod(o.path.c_str(), 0660) != 0))
        return sys("set the control socket's group", o.path, errno);
    if (::listen(s->fd_, 32) != 0) return sys("listen", o.path, errno);
    return s;
}

ControlSocket::~ControlSocket() {
    struct stat st {};
    if (fd_ >= 0 && ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
    if (fd_ >= 0) ::close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::optional<ControlSocket::Accepted>> ControlSocket::accept() const {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return std::optional<Accepted>();
        return sys("accept", path_, errno);
    }
    auto peer = peer_of(c);
    if (!peer) {
        ::close(c);
        return peer.error();
    }
    return std::optional<Accepted>(Accepted{c, std::move(*peer)});
}

std::string ControlSocket::refusal(const Peer& p) const {
    if (p.uid == 0) return "";
    if (group_ && (p.gid == *group_ || std::count(p.groups.begin(), p.groups.end(), *group_))) return "";
    return "uid " + std::to_string(p.uid) + " may not use avpnd's control socket " + path_ + ": only root" +
           (group_ ? " and members of group " + group_name_ : std::string()) + " may";
}

}  // namespace avpn::runtime
