// The state directory (default /var/lib/avpn, --state-dir): what the last
// successful apply owns, the config it applied, and the lock that keeps two
// applies from interleaving.
//
// Nobody else may steer it (issue 12, case 4): root writes there and deletes
// what the record names. So the directory is created 0700 when missing and
// refused when it is a symlink, owned by another user or writable by group
// or others; it is opened once, and every file in it is opened relative to
// that fd with O_NOFOLLOW (common/atomic_file.hpp: temp files O_EXCL with a
// random name, renameat, fsync). The record is validated before it may name
// anything to delete: a damaged one is an error naming file:line and the
// recovery command, `avpnctl down --force-scan`.
#pragma once

#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/result.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "orchestrator/reconcile/writer_lock.hpp"

namespace avpn {

inline constexpr const char* kDefaultStateDir = "/var/lib/avpn";

// Error.code of a record that exists but cannot be trusted (damaged,
// truncated, naming what avpn could not have made, not a regular file).
// `down --force-scan` goes ahead without it; everything else stops.
inline constexpr int kDamagedRecord = EBADMSG;

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
    // creates the directory (0700) when missing, checks and opens it, and
    // takes an exclusive, non-blocking lock on its `lock` file. When another
    // apply or avpnd holds either, Error.what is "locked" and
    // lock_held_elsewhere() is true of the error.
    Status lock();

    // The last record, or an empty one when nothing was applied yet (no
    // directory, no record). A record that cannot be trusted is an error
    // with code kDamagedRecord naming file:line.
    Result<AppliedRecord> load() const;
    Status save(const AppliedRecord&, const std::string& config_text) const;
    Status clear() const;  // after `down`

    // One file of the directory, by name (one path component), relative to
    // the directory's fd with O_NOFOLLOW; for the record's neighbours (the
    // apply journal, charon's bookkeeping). Reading a missing file, or in a
    // directory that does not exist yet, gives nullopt.
    Result<std::optional<std::string>> read_file(const char* name) const;
    Status write_file(const char* name, const std::string& contents) const;  // atomic, 0600
    Status append_file(const char* name, const std::string& text) const;     // O_APPEND, fsync'd
    Result<uint64_t> file_size(const char* name) const;                      // 0 when missing
    Status truncate_file(const char* name, uint64_t size) const;             // fsync'd
    Status remove_file(const char* name) const;

    const std::string& path() const { return path_; }

private:
    // Opens (and with `create` makes) the directory once and checks it.
    Status open_dir(bool create) const;

    std::string path_;
    WriterLock writer_;
    mutable int dir_fd_ = -1;
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
