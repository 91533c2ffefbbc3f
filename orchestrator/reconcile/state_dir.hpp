// The state directory (default /var/lib/avpn, --state-dir): what the last
// successful apply owns, the config it applied, and the lock that keeps two
// applies from interleaving. Files are written atomically (temp file, fsync,
// rename, fsync of the directory), so a crash leaves the old or the new
// version, never half of one.
#pragma once

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/result.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/writer_lock.hpp"

namespace avpn {

inline constexpr const char* kDefaultStateDir = "/var/lib/avpn";

// What avpn created and must be able to find again even after the config
// stops mentioning it.
struct AppliedRecord {
    std::string site;
    std::string config_path;
    OwnedScope owned;
    std::vector<std::string> ipsec_connections;  // charon connection names avpn loaded
};

class StateDir {
public:
    explicit StateDir(std::string path) : path_(std::move(path)) {}
    ~StateDir();
    StateDir(const StateDir&) = delete;
    StateDir& operator=(const StateDir&) = delete;

    // Takes the network namespace's writer lock (writer_lock.hpp), then
    // creates the directory (0700) when missing and takes an exclusive,
    // non-blocking lock on it. When another apply or avpnd holds either,
    // Error.what is "locked" and lock_held_elsewhere() is true of the error.
    Status lock();

    // The last record, or an empty one when nothing was applied yet.
    Result<AppliedRecord> load() const;
    Status save(const AppliedRecord&, const std::string& config_text) const;
    Status clear() const;  // after `down`

    const std::string& path() const { return path_; }

private:
    std::string path_;
    WriterLock writer_;
    int lock_fd_ = -1;
};

// A failure of StateDir::lock() because another avpnctl or avpnd holds a
// lock: the writer lock (bind: EADDRINUSE) or the directory's (flock:
// EWOULDBLOCK). The caller is busy, not broken (exit code 4). Only for the
// errors of lock(): those codes mean other things elsewhere (wireguard-go
// answers EADDRINUSE for a listen port in use).
inline bool lock_held_elsewhere(const Error& lock_failure) {
    return lock_failure.code == EWOULDBLOCK || lock_failure.code == EADDRINUSE;
}

}  // namespace avpn
