// Small files that a crash must leave whole, and that nobody else can steer.
//
// Replacing a file so that a crash leaves the old or the new contents, never
// half of one: a temp file beside it, fsync, rename, fsync of the directory.
// The temp file's name carries the pid and random bytes and is created
// O_EXCL|O_NOFOLLOW: a name planted in advance (a symlink to /etc/shadow, a
// file of someone else's) makes the write fail instead of writing through it
// (issue 12, case 4). A failed write removes its temp file.
//
// The *_at forms work inside a directory already opened (StateDir holds its
// directory's fd), `name` being one path component opened O_NOFOLLOW relative
// to it; `shown` is how errors name the directory. The path forms open the
// parent directory and use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace avpn {

Status write_file_atomic(const std::string& path, const std::string& contents, unsigned mode);

Status write_file_atomic_at(int dir_fd, const std::string& shown, const std::string& name,
                            const std::string& contents, unsigned mode);
// The contents of a regular file, nullopt when there is none. A symlink is
// refused (ELOOP), as is anything but a regular file (EINVAL) or a file over
// max_bytes (EFBIG).
Result<std::optional<std::string>> read_file_at(int dir_fd, const std::string& shown, const std::string& name,
                                                size_t max_bytes);
// The same by path (the last component is not followed): the records that
// charon's and wireguard-go's bookkeeping keep in the state directory.
Result<std::optional<std::string>> read_file(const std::string& path, size_t max_bytes);
// Their readers' form: what a missing, refused or unreadable file holds is
// nothing (those records are advisory and a damaged one reads as empty).
std::string read_advisory_record(const std::string& path);
// Appends and fsyncs (creating the file with `mode`, and fsyncing the
// directory then, when it is missing): one record of a log that must be on
// disk before what it announces happens.
Status append_file_at(int dir_fd, const std::string& shown, const std::string& name, const std::string& text,
                      unsigned mode);
// The size of a regular file (0 when there is none), and cutting it back to
// a size: an append-only log dropping what a run that was undone added.
Result<uint64_t> file_size_at(int dir_fd, const std::string& shown, const std::string& name);
Status truncate_file_at(int dir_fd, const std::string& shown, const std::string& name, uint64_t size);
// Removes the file (an absent one is fine) and fsyncs the directory.
Status remove_file_at(int dir_fd, const std::string& shown, const std::string& name);

}  // namespace avpn
