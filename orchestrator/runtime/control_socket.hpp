// avpnd's listening control socket and who may use it.
//
// The socket (default /run/avpn/avpnd.sock) lives in a directory avpnd
// creates 0755 when missing; the socket itself is 0600 root, or 0660
// root:GROUP with --control-group GROUP, so the file mode already keeps
// others out. Every accepted connection is checked again by the peer's
// credentials (SO_PEERCRED, SO_PEERGROUPS): uid 0, or GROUP as its primary
// or a supplementary group. That second check is what holds when the mode
// was loosened by hand or a descriptor was passed on.
//
// A socket file left by an avpnd killed with SIGKILL is removed at start,
// but only after nobody answers a connect to it, while holding PATH.lock
// (flock) so two avpnd starting at once cannot both decide it is stale.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace avpn::runtime {

struct ControlSocketOptions {
    std::string path;
    std::string group;  // empty: root only
};

struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary
};

class ControlSocket {
public:
    // Error.what "locked": another avpnd serves PATH.
    static Result<std::unique_ptr<ControlSocket>> open(const ControlSocketOptions& o);
    ~ControlSocket();  // closes, and removes the file if it is still this socket's
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

    // A waiting connection (non-blocking, close-on-exec) and its peer;
    // nullopt when none is waiting.
    struct Accepted {
        int fd = -1;
        Peer peer;
    };
    Result<std::optional<Accepted>> accept() const;

    // Empty when `peer` may use the socket, else why not (for the reply).
    std::string refusal(const Peer& peer) const;

private:
    ControlSocket() = default;

    std::string path_, group_name_;
    std::optional<gid_t> group_;
    int fd_ = -1, lock_fd_ = -1;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
};

// The credentials of a connected unix socket's peer.
Result<Peer> peer_of(int fd);

}  // namespace avpn::runtime
