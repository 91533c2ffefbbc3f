#include "orchestrator/reconcile/state_dir.hpp"

#include "orchestrator/reconcile/apply_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "plugins/wireguard/uapi.hpp"

namespace avpn {

namespace {

constexpr const char* kRecordFile = "applied.state";
constexpr const char* kConfigFile = "applied-site.toml";
constexpr const char* kLockFile = "lock";
// Far above any file avpn writes there (a 10,000-spoke record is a few
// hundred bytes; the journal of such an apply a few MB).
constexpr size_t kMaxFileBytes = 64u << 20;

Error sys_error(std::string what, std::string where) {
    int err = errno;
    return Error{std::move(what), std::move(where), std::strerror(err), err};
}

std::string octal_mode(mode_t m) {
    char b[8];
    std::snprintf(b, sizeof b, "%04o", unsigned(m & 07777));
    return b;
}

// The record is line-based "key value" text: trivially parsed, diffable by
// an operator, and no JSON parser is needed for it. Version 2 ends with
// "end", so a record cut at a line boundary is seen as cut; version 1
// (no end line) is still read.
std::string serialise(const AppliedRecord& r) {
    std::ostringstream o;
    o << "version 2\n";
    o << "site " << r.site << "\n";
    o << "config " << r.config_path << "\n";
    for (const auto& l : r.owned.links) o << "link " << l << "\n";
    for (uint32_t t : r.owned.tables) o << "table " << t << "\n";
    for (const auto& c : r.ipsec_connections) o << "ipsec " << c << "\n";
    o << "end\n";
    return o.str();
}

// Only what avpn itself could have written: the record decides what down
// deletes, so a name it could never have planned is damage, not a wish.
bool plain_name(std::string_view s, size_t max) {
    if (s.empty() || s.size() > max || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
    for (char ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') return false;
    return true;
}

std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char c : s.substr(0, 64)) {
        if (c < 0x20 || c == 0x7f) {
            char b[5];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else {
            out += char(c);
        }
    }
    return s.size() > 64 ? out + "..." : out;
}

std::string table_problem(const std::string& v) {
    unsigned long long t = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), t);
    if (v.empty() || v.size() > 10 || ec != std::errc() || end != v.data() + v.size())
        return "table '" + escaped(v) + "' is not a number";
    if (t == 0 || t > 0xffffffffULL) return "table " + v + " is outside 1..4294967295";
    if (t >= 253 && t <= 255) return "table " + v + " is one of the kernel's own (default, main, local)";
    return "";
}

// The line's problem, or "" when it is fine.
std::string entry_problem(const std::string& k, const std::string& v, AppliedRecord& r) {
    if (k == "site") {
        if (!r.site.empty()) return "a second site line";
        if (!plain_name(v, 63)) return "site '" + escaped(v) + "' is not a site name";
        r.site = v;
    } else if (k == "config") {
        for (unsigned char c : v)
            if (c < 0x20 || c == 0x7f) return "the config path holds a control character";
        r.config_path = v;
    } else if (k == "link") {
        if (Status s = wg::check_ifname(v); !s) return "link '" + escaped(v) + "' " + s.error().why;
        r.owned.links.insert(v);
    } else if (k == "table") {
        if (std::string why = table_problem(v); !why.empty()) return why;
        r.owned.tables.insert(uint32_t(std::strtoul(v.c_str(), nullptr, 10)));
    } else if (k == "ipsec") {
        if (v.rfind("avpn-", 0) != 0 || !plain_name(v.substr(5), 63))
            return "ipsec '" + escaped(v) + "' is not a connection name avpn gives (avpn-NAME)";
        r.ipsec_connections.push_back(v);
    } else {
        return "unknown entry '" + escaped(k) + "'";
    }
    return "";
}

Result<AppliedRecord> parse(const std::string& text, const std::string& where, const std::string& recovery) {
    auto damaged = [&](int line, const std::string& why) {
        return Error{"damaged state record", where + ":" + std::to_string(line),
                     why + "; nothing is deleted by it. To remove what the kernel marks as avpn's, and then the record: " +
                         recovery,
                     kDamagedRecord};
    };
    AppliedRecord r;
    std::istringstream in(text);
    std::string line;
    int n = 0, version = 0;
    bool ended = false, cut = !text.empty() && text.back() != '\n';
    while (std::getline(in, line)) {
        ++n;
        if (cut && in.peek() == std::char_traits<char>::eof()) return damaged(n, "the last line is cut short");
        if (ended) return damaged(n, "text after the end line");
        if (line.empty()) continue;
        auto sp = line.find(' ');
        std::string k = line.substr(0, sp), v = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (version == 0) {
            if (k != "version" || (v != "1" && v != "2")) return damaged(n, "no 'version 1' or 'version 2' line first");
            version = v == "1" ? 1 : 2;
        } else if (k == "end" && v.empty() && version == 2) {
            ended = true;
        } else if (std::string why = entry_problem(k, v, r); !why.empty()) {
            return damaged(n, why);
        }
    }
    if (version == 0) return damaged(n + 1, "the record is empty");
    if (version == 2 && !ended) return damaged(n + 1, "the record is cut short (no end line)");
    if (r.site.empty()) return damaged(n + 1, "the record names no site");
    return r;
}

}  // namespace

StateDir::~StateDir() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status StateDir::open_dir(bool create) const {
    if (dir_fd_ >= 0) return {};
    if (create && ::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("create state directory", path_);
    int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        struct stat ls {};
        if ((err == ELOOP || err == ENOTDIR) && ::lstat(path_.c_str(), &ls) == 0 && S_ISLNK(ls.st_mode))
            return Error{"refuse state directory", path_,
                         "is a symbolic link: avpn uses only a real directory there (a link can send its writes "
                         "and deletes anywhere)",
                         ELOOP};
        errno = err;
        return sys_error("open state directory", path_);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        Error e = sys_error("open state directory", path_);
        ::close(fd);
        return e;
    }
    uid_t me = ::geteuid();
    if (st.st_uid != me || (st.st_mode & 022) != 0) {
        ::close(fd);
        std::string is = "owned by uid " + std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid) +
                         ", mode " + octal_mode(st.st_mode);
        return Error{"refuse state directory", path_,
                     is + ": avpn (uid " + std::to_string(me) + ") deletes what the record there names, so the directory " +
                         "must be its own and writable by nobody else (owner uid " + std::to_string(me) +
                         ", no group or world write; avpn creates it 0700 when it is missing)",
                     EPERM};
    }
    dir_fd_ = fd;
    return {};
}

Status StateDir::lock() {
    if (Status s = writer_.acquire(); !s) return s;
    if (Status s = open_dir(true); !s) return s;
    std::string lf = path_ + "/" + kLockFile;
    // O_NOFOLLOW: a planted `lock` symlink (dangling or not) is refused, and
    // its target is neither created nor opened.
    lock_fd_ = ::openat(dir_fd_, kLockFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);
    if (lock_fd_ < 0) {
        if (errno == ELOOP)
            return Error{"refuse lock", lf, "is a symbolic link: avpn follows none in its state directory", ELOOP};
        return sys_error("open lock", lf);
    }
    struct stat st {};
    if (::fstat(lock_fd_, &st) != 0) return sys_error("open lock", lf);
    if (!S_ISREG(st.st_mode)) return Error{"refuse lock", lf, "is not a regular file", EINVAL};
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return Error{"locked", lf, "another avpnctl apply or avpnd holds the lock", EWOULDBLOCK};
        return sys_error("lock", lf);
    }
    return {};
}

Result<AppliedRecord> StateDir::load() const {
    auto text = read_file(kRecordFile);
    std::string where = path_ + "/" + kRecordFile;
    std::string recovery = "avpnctl down --force-scan";
    if (path_ != kDefaultStateDir) recovery += " --state-dir " + path_;
    if (!text) {
        Error e = text.error();
        // Not a regular file (a directory, a FIFO, a symlink): as untrustworthy
        // as a damaged one, and as recoverable.
        if (e.code == ELOOP || e.code == EINVAL || e.code == EFBIG)
            return Error{"damaged state record", where, e.why + ". To remove what the kernel marks as avpn's, and then the record: " + recovery,
                         kDamagedRecord};
        return e;
    }
    if (!*text) return AppliedRecord{};
    return parse(**text, where, recovery);
}

Status StateDir::save(const AppliedRecord& r, const std::string& config_text) const {
    if (Status s = write_file(kConfigFile, config_text); !s) return s;
    if (Status s = write_file(kRecordFile, serialise(r)); !s) return s;
    // The record names all the journal did (or the apply removed it).
    return remove_file(kApplyJournalFile);
}

Status StateDir::clear() const {
    for (const char* f : {kRecordFile, kConfigFile}) {
        Status s = remove_file(f);
        // `down --force-scan` after a directory took the record's place: an
        // empty one goes too; one with contents is the operator's to look at.
        if (!s && s.error().code == EISDIR && ::unlinkat(dir_fd_, f, AT_REMOVEDIR) == 0) continue;
        if (!s) return s;
    }
    return remove_file(kApplyJournalFile);
}

Result<std::optional<std::string>> StateDir::read_file(const char* name) const {
    if (Status s = open_dir(false); !s) {
        if (s.error().code == ENOENT) return std::optional<std::string>{};  // nothing applied yet
        return s.error();
    }
    return read_file_at(dir_fd_, path_, name, kMaxFileBytes);
}

Status StateDir::write_file(const char* name, const std::string& contents) const {
    if (Status s = open_dir(false); !s) return s;
    return write_file_atomic_at(dir_fd_, path_, name, contents, 0600);
}

Status StateDir::append_file(const char* name, const std::string& text) const {
    if (Status s = open_dir(false); !s) return s;
    return append_file_at(dir_fd_, path_, name, text, 0600);
}

Result<uint64_t> StateDir::file_size(const char* name) const {
    if (Status s = open_dir(false); !s) {
        if (s.error().code == ENOENT) return uint64_t(0);
        return s.error();
    }
    return file_size_at(dir_fd_, path_, name);
}

Status StateDir::truncate_file(const char* name, uint64_t size) const {
    if (Status s = open_dir(false); !s) return s;
    return truncate_file_at(dir_fd_, path_, name, size);
}

Status StateDir::remove_file(const char* name) const {
    if (Status s = open_dir(false); !s) {
        if (s.error().code == ENOENT) return {};
        return s;
    }
    return remove_file_at(dir_fd_, path_, name);
}

}  // namespace avpn
