// The lifecycle of wireguard-go daemons, in one place: the kernel port asks
// it for a daemon when it creates a userspace WireGuard link and tells it
// which links it found and which it deleted; avpnd polls fd() and calls
// reap() when a daemon has exited, and the next converge restarts it.
//
// - A daemon that already answers on an interface's UAPI socket is adopted
//   (its pid from the socket's peer credentials), never restarted: a new
//   daemon would start without any session and every peer would have to
//   handshake again.
// - Each daemon is watched through a pidfd, which works for processes that
//   are not avpnd's children (adopted ones) and turns readable the moment
//   the process exits.
// - With reap_children avpnd is a child subreaper, so a daemon it started is
//   re-parented to it after the double fork and its exit status is known;
//   an adopted daemon's is not.
// - Nothing here stops a daemon that runs: they outlive avpnd on purpose.
//   Deleting the link makes wireguard-go exit by itself.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "plugins/wireguard/daemon_record.hpp"
#include "plugins/wireguard/wireguard_go.hpp"

namespace avpn::wg {

struct SupervisorOptions {
    WireguardGoOptions launch;
    std::string record_path;  // daemon_record_path(state dir): kept for `avpnctl status`; empty: none
    std::function<void(const std::string&)> log;  // one line per event; empty: silent
    bool reap_children = false;  // become a child subreaper (a long-lived process only)
};

class Supervisor {
public:
    // Reads the record an earlier avpnd left (nothing is written until a
    // daemon is adopted or started, so opening is safe before the state
    // directory's lock is held).
    static Result<std::unique_ptr<Supervisor>> open(SupervisorOptions options);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // A daemon for ifname, whose link is about to be created: the pid of a
    // new one. A watched daemon that has exited is reaped first and the
    // restart logged ("... exited (signal SIGKILL): restarted as pid M").
    Result<pid_t> start(const std::string& ifname);
    // ifname's link is served by a daemon (a TUN device with a UAPI socket):
    // watch it unless that is done already. Nothing answers: nothing to do.
    void adopt(const std::string& ifname);
    // avpn deletes ifname's link: its daemon's exit is expected, not a crash.
    void release(const std::string& ifname);

    // Readable when a watched daemon has exited; then call reap().
    int fd() const { return epoll_fd_; }
    // Reaps every watched daemon that has exited; true when there was one
    // (a converge then restarts it).
    bool reap();

    const std::map<std::string, DaemonRecord>& daemons() const { return records_; }

private:
    struct Watched {
        pid_t pid = 0;
        int pidfd = -1;
        bool child = false;  // started here while a subreaper: its exit status can be read
    };
    struct Exit {
        pid_t pid = 0;
        std::string how;  // exit_text(), or why it is unknown
        int64_t at = 0;
    };
    Supervisor(SupervisorOptions options, int epoll_fd);

    bool watch(const std::string& ifname, pid_t pid, bool child);
    void unwatch(const std::string& ifname);
    void let_go(const std::string& ifname);  // no longer ifname's daemon; a child is still reaped
    void collect(const std::string& ifname);  // the watched daemon has exited
    bool has_exited(const Watched& w, int wait_ms) const;
    void save();
    void log(const std::string& line) const;

    SupervisorOptions options_;
    int epoll_fd_ = -1;
    std::map<std::string, Watched> watched_;
    std::map<std::string, Exit> exited_;  // exits not yet followed by a start
    std::vector<Watched> leaving_;         // children let go: reaped when they exit, never restarted
    std::map<std::string, DaemonRecord> records_;  // the interfaces seen since open(): what save() writes
    std::map<std::string, DaemonRecord> earlier_;  // as the record file was at open()
};

}  // namespace avpn::wg
