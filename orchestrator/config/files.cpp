#include "orchestrator/config/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"

namespace avpn::config {

namespace {

// Member lists of 10,000 sites are a few MB; secrets are tiny. Anything
// larger is a mistake (or /dev/zero), not a config.
constexpr size_t kMaxTextBytes = 64u << 20;
constexpr size_t kMaxSecretBytes = 4096;

std::string errno_text(int err) { return std::strerror(err); }

std::string octal_mode(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", unsigned(m & 07777));
    return buf;
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// Reads up to max bytes from an open regular file; error text when larger.
Result<std::string> read_all(int fd, const std::string& path, size_t max) {
    std::string out;
    if (max <= kMaxSecretBytes) out.reserve(max);  // no reallocation leaves copies behind
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            return Error{"read", path, "cannot read " + path + ": " + errno_text(err), err};
        }
        if (n == 0) break;
        if (out.size() + size_t(n) > max) {
            crypto::wipe(buf, sizeof buf);
            crypto::wipe(out.data(), out.size());
            return Error{"read", path, path + " is larger than " + std::to_string(max) + " bytes"};
        }
        out.append(buf, size_t(n));
    }
    crypto::wipe(buf, sizeof buf);
    return out;
}

// What a symbolic link points to, for a message.
std::string link_target(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n < 0 ? std::string("?") : std::string(buf, size_t(n));
}

Result<int> open_regular(const std::string& path, struct stat& st, int extra_flags = 0) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP && (extra_flags & O_NOFOLLOW))
            return Error{"open", path,
                         path + " is a symbolic link (to " + link_target(path) +
                             "); a secret is read from its own file, never through a link: name the file itself",
                         err};
        return Error{"open", path, "cannot open " + path + ": " + errno_text(err), err};
    }
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return Error{"stat", path, "cannot stat " + path + ": " + errno_text(err), err};
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{"open", path, path + " is not a regular file"};
    }
    return fd;
}

class SystemFiles final : public FileSource {
public:
    Result<std::string> read_text(const std::string& path) const override {
        struct stat st {};
        auto fd = open_regular(path, st);
        if (!fd) return fd.error();
        Fd guard(*fd);
        return read_all(guard.get(), path, kMaxTextBytes);
    }

    // O_NOFOLLOW: the mode checked (and the chmod the message suggests) are
    // then those of the file that is read, not of a link's target that may
    // be anyone's file, swapped between the check and the read.
    Result<Secret> read_secret(const std::string& path) const override {
        struct stat st {};
        auto fd = open_regular(path, st, O_NOFOLLOW);
        if (!fd) return fd.error();
        Fd guard(*fd);
        if (st.st_mode & 077)
            return Error{"permissions", path,
                         path + " has mode " + octal_mode(st.st_mode) +
                             ", so group or others may access it; secrets must be private: run `chmod 600 " +
                             path + "`"};
        auto text = read_all(guard.get(), path, kMaxSecretBytes);
        if (!text) return text.error();
        return Secret(std::move(*text));
    }
};

}  // namespace

Secret& Secret::operator=(Secret&& o) noexcept {
    if (this != &o) {
        wipe();
        text_ = std::move(o.text_);
        o.wipe();
    }
    return *this;
}

std::string_view Secret::trimmed() const {
    std::string_view s = text_;
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

void Secret::wipe() {
    if (!text_.empty()) crypto::wipe(text_.data(), text_.size());
    text_.clear();
}

const FileSource& system_files() {
    static const SystemFiles files;
    return files;
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string resolve_path(const std::string& dir, const std::string& rel) {
    if (rel.empty() || rel.front() == '/') return rel;
    if (dir == ".") return rel;
    if (dir == "/") return "/" + rel;
    return dir + "/" + rel;
}

std::string normal_path(const std::string& path) {
    if (path.empty()) return path;
    const bool absolute = path.front() == '/';
    std::vector<std::string_view> kept;
    std::string_view rest = path;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (part.empty() || part == ".") continue;
        if (part == ".." && !kept.empty() && kept.back() != "..") {
            kept.pop_back();
            continue;
        }
        if (part == ".." && absolute) continue;  // "/.." is "/"
        kept.push_back(part);
    }
    std::string out = absolute ? "/" : "";
    for (size_t i = 0; i < kept.size(); ++i) {
        if (i) out += '/';
        out += kept[i];
    }
    return out.empty() ? "." : out;
}

}  // namespace avpn::config
