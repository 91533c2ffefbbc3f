#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace avpn {

namespace {

Error sys_error(std::string what, std::string where) {
    int err = errno;
    return Error{std::move(what), std::move(where), std::strerror(err), err};
}

// Why an open relative to a directory failed, in the reader's terms: with
// O_NOFOLLOW a symlink is ELOOP, which strerror calls "Too many levels of
// symbolic links".
Error open_error(std::string what, std::string where) {
    if (errno == ELOOP)
        return Error{std::move(what), std::move(where), "is a symbolic link: avpn follows none in its state directory",
                     ELOOP};
    return sys_error(std::move(what), std::move(where));
}

std::string temp_name(const std::string& name) {
    unsigned char r[8] = {};
    if (::getrandom(r, sizeof r, 0) != sizeof r) {
        // No entropy yet (early boot): the pid and the clock still make the
        // name one nobody planted by accident; O_EXCL refuses one planted on purpose.
        uint64_t t = uint64_t(::time(nullptr)) ^ uint64_t(::getpid()) << 32;
        std::memcpy(r, &t, sizeof r);
    }
    char hex[17];
    for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return name + ".tmp." + std::to_string(::getpid()) + "." + hex;
}

Status write_all(int fd, const std::string& text, const std::string& shown) {
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("write state", shown);
        off += size_t(n);
    }
    return {};
}

Status sync_dir(int dir_fd, const std::string& shown) {
    if (::fsync(dir_fd) != 0) return sys_error("fsync state directory", shown);
    return {};
}

}  // namespace

Status write_file_atomic_at(int dir_fd, const std::string& shown, const std::string& name,
                            const std::string& contents, unsigned mode) {
    std::string tmp = temp_name(name);
    std::string tmp_shown = shown + "/" + tmp;
    int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return open_error("write state", tmp_shown);
    Status s = write_all(fd, contents, tmp_shown);
    if (s && ::fsync(fd) != 0) s = sys_error("fsync state", tmp_shown);
    if (::close(fd) != 0 && s) s = sys_error("close state", tmp_shown);
    // renameat replaces `name` itself, never what a symlink of that name points at.
    if (s && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) s = sys_error("rename state", shown + "/" + name);
    if (!s) {
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        return s;
    }
    return sync_dir(dir_fd, shown);  // the rename itself must survive a crash
}

Status write_file_atomic(const std::string& path, const std::string& contents, unsigned mode) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return sys_error("open state directory", dir);
    Status s = write_file_atomic_at(dfd, dir, name, contents, mode);
    ::close(dfd);
    return s;
}

Result<std::optional<std::string>> read_file(const std::string& path, size_t max_bytes) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return sys_error("open state directory", dir);
    }
    auto r = read_file_at(dfd, dir, name, max_bytes);
    ::close(dfd);
    return r;
}

std::string read_advisory_record(const std::string& path) {
    auto text = read_file(path, 64u << 20);
    return text && *text ? std::move(**text) : std::string();
}

Result<std::optional<std::string>> read_file_at(int dir_fd, const std::string& shown, const std::string& name,
                                                size_t max_bytes) {
    std::string where = shown + "/" + name;
    // O_NONBLOCK: a FIFO planted under the name must not hang the reader.
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return open_error("read state", where);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        Error e = sys_error("read state", where);
        ::close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{"read state", where, S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file",
                     EINVAL};
    }
    if (size_t(st.st_size) > max_bytes) {
        ::close(fd);
        return Error{"read state", where, "is " + std::to_string(st.st_size) + " bytes, more than avpn ever writes there",
                     EFBIG};
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Error e = sys_error("read state", where);
            ::close(fd);
            return e;
        }
        if (n == 0) break;
        text.append(buf, size_t(n));
        if (text.size() > max_bytes) {
            ::close(fd);
            return Error{"read state", where, "grew past " + std::to_string(max_bytes) + " bytes while read", EFBIG};
        }
    }
    ::close(fd);
    return std::optional<std::string>(std::move(text));
}

Status append_file_at(int dir_fd, const std::string& shown, const std::string& name, const std::string& text,
                      unsigned mode) {
    std::string where = shown + "/" + name;
    bool created = true;
    int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST) {
        created = false;
        fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    }
    if (fd < 0) return open_error("append state", where);
    struct stat st {};
    Status s;
    if (::fstat(fd, &st) != 0) s = sys_error("append state", where);
    else if (!S_ISREG(st.st_mode)) s = Error{"append state", where, "is not a regular file", EINVAL};
    if (s) s = write_all(fd, text, where);
    if (s && ::fsync(fd) != 0) s = sys_error("fsync state", where);
    if (::close(fd) != 0 && s) s = sys_error("close state", where);
    if (s && created) s = sync_dir(dir_fd, shown);
    return s;
}

namespace {

// An existing regular file opened O_NOFOLLOW, or -1 with errno (ENOENT when absent).
int open_regular(int dir_fd, const std::string& name, int flags, Error& err, const std::string& where) {
    int fd = ::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        err = open_error("open state", where);
        return -1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = Error{"open state", where, "is not a regular file", EINVAL};
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

Result<uint64_t> file_size_at(int dir_fd, const std::string& shown, const std::string& name) {
    Error err;
    int fd = open_regular(dir_fd, name, O_RDONLY, err, shown + "/" + name);
    if (fd < 0) return err.code == ENOENT ? Result<uint64_t>(uint64_t(0)) : Result<uint64_t>(err);
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    return uint64_t(st.st_size);
}

Status truncate_file_at(int dir_fd, const std::string& shown, const std::string& name, uint64_t size) {
    std::string where = shown + "/" + name;
    Error err;
    int fd = open_regular(dir_fd, name, O_WRONLY, err, where);
    if (fd < 0) return err.code == ENOENT && size == 0 ? Status() : Status(err);
    Status s;
    if (::ftruncate(fd, off_t(size)) != 0) s = sys_error("truncate state", where);
    else if (::fsync(fd) != 0) s = sys_error("fsync state", where);
    ::close(fd);
    return s;
}

Status remove_file_at(int dir_fd, const std::string& shown, const std::string& name) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0) {
        if (errno == ENOENT) return {};
        return sys_error("remove state", shown + "/" + name);
    }
    return sync_dir(dir_fd, shown);
}

}  // namespace avpn
