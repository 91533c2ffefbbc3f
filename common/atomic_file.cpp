#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace avpn {

namespace {

Error sys_error(std::string what, std::string where) {
    int err = errno;
    return Error{std::move(what), std::move(where), std::strerror(err), err};
}

}  // namespace

Status write_file_atomic(const std::string& path, const std::string& contents, unsigned mode) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return sys_error("write state", tmp);
    size_t off = 0;
    while (off < contents.size()) {
        ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Error e = sys_error("write state", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return e;
        }
        off += size_t(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        Error e = sys_error("fsync state", tmp);
        ::unlink(tmp.c_str());
        return e;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("rename state", path);
    std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);  // the rename itself must survive a crash
        ::close(dfd);
    }
    return {};
}

}  // namespace avpn
