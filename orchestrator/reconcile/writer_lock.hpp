// One avpn writer per network namespace, whatever state directory each was
// given. avpn's kernel objects (its tables, rule band, links, XFRM ranges)
// are per namespace, so two writers there would undo each other; a lock
// file in a state directory cannot stop that when the two were given
// different directories, or when the directory was removed under a running
// avpnd.
//
// The lock is a listening unix socket in the abstract namespace, which the
// kernel keeps per network namespace: bind() succeeds for exactly one process,
// the kernel releases it when that process dies (even by SIGKILL), and
// nothing on disk can be pre-created, replaced or removed by anyone else.
// A refused writer connects to it and names the holder from SO_PEERCRED.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.hpp"

namespace avpn {

// The abstract socket name (without the leading NUL).
inline constexpr const char* kWriterLockName = "avpn/kernel-writer";

class WriterLock {
public:
    WriterLock() = default;
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

    // Takes the lock of the caller's network namespace. Error.what is
    // "locked" (code EADDRINUSE) when another process holds it; why names it.
    Status acquire();
    bool held() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// The pid holding the lock in this namespace, or 0 when nobody does.
pid_t writer_lock_holder();

}  // namespace avpn
