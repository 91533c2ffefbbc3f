#include "orchestrator/reconcile/apply_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace avpn {

namespace {

Error sys_error(std::string what, const std::string& where) {
    int err = errno;
    return Error{std::move(what), where, std::strerror(err), err};
}

Status fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_error("open state directory", dir);
    int rc = ::fsync(fd);
    Status s = rc == 0 ? Status{} : Status{sys_error("fsync state directory", dir)};
    ::close(fd);
    return s;
}

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 255) return false;
    for (unsigned char c : s)
        if (c <= ' ' || c == 0x7f) return false;
    return true;
}

}  // namespace

ApplyJournal::ApplyJournal(std::string state_dir)
    : dir_(std::move(state_dir)), path_(dir_ + "/" + kApplyJournalFile) {}

Status ApplyJournal::append(const std::string& lines) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    bool created = false;
    if (fd < 0 && errno == ENOENT) {
        fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        created = fd >= 0;
    }
    if (fd < 0) return sys_error("open the apply journal", path_);
    std::string text = created ? "version 1\n" + lines : lines;
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Error e = sys_error("write the apply journal", path_);
            ::close(fd);
            return e;
        }
        off += size_t(n);
    }
    if (::fsync(fd) != 0) {
        Error e = sys_error("fsync the apply journal", path_);
        ::close(fd);
        return e;
    }
    ::close(fd);
    return created ? fsync_dir(dir_) : Status{};
}

Status ApplyJournal::note_link(const JournaledLink& l) {
    if (!valid_name(l.name)) return Error{"write the apply journal", path_, "bad interface name", EINVAL};
    return append("link " + l.name + " " + std::to_string(l.ifindex_floor) + "\n");
}

Status ApplyJournal::note_ipsec(const std::vector<std::string>& names) {
    std::string lines;
    for (const std::string& n : names) {
        if (!valid_name(n)) return Error{"write the apply journal", path_, "bad connection name", EINVAL};
        lines += "ipsec " + n + "\n";
    }
    return lines.empty() ? Status{} : append(lines);
}

Result<JournalEntries> ApplyJournal::read() const {
    JournalEntries out;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return out;
        return sys_error("read the apply journal", path_);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Error e = sys_error("read the apply journal", path_);
            ::close(fd);
            return e;
        }
        if (n == 0) break;
        text.append(buf, size_t(n));
    }
    ::close(fd);
    // Only whole lines count: an append cut short by a crash ends without one.
    if (size_t end = text.rfind('\n'); end != std::string::npos) text.resize(end + 1);
    else text.clear();
    std::istringstream in(text);
    std::string line;
    int n = 0;
    auto bad = [&](const std::string& why) {
        return Error{"read the apply journal", path_ + ":" + std::to_string(n),
                     why + "; remove it only after `avpnctl down --force-scan` or by hand"};
    };
    while (std::getline(in, line)) {
        ++n;
        std::istringstream words(line);
        std::string key, name, floor, extra;
        words >> key >> name >> floor >> extra;
        if (n == 1) {
            if (key != "version" || name != "1" || !floor.empty()) return bad("not an apply journal of version 1");
            continue;
        }
        if (key == "link" && valid_name(name) && !floor.empty() && extra.empty()) {
            char* end = nullptr;
            unsigned long f = std::strtoul(floor.c_str(), &end, 10);
            if (*end || f > 0xffffffffUL) return bad("bad ifindex '" + floor + "'");
            out.links.push_back({name, uint32_t(f)});
        } else if (key == "ipsec" && valid_name(name) && floor.empty()) {
            out.ipsec.push_back(name);
        } else {
            return bad("unreadable entry");
        }
    }
    return out;
}

Result<uint64_t> ApplyJournal::size() const {
    struct stat st{};
    if (::lstat(path_.c_str(), &st) != 0) {
        if (errno == ENOENT) return uint64_t(0);
        return sys_error("stat the apply journal", path_);
    }
    return uint64_t(st.st_size);
}

Status ApplyJournal::truncate(uint64_t size) const {
    if (size == 0) return clear();
    int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return sys_error("open the apply journal", path_);
    Status s;
    if (::ftruncate(fd, off_t(size)) != 0 || ::fsync(fd) != 0) s = sys_error("truncate the apply journal", path_);
    ::close(fd);
    return s;
}

Status ApplyJournal::clear() const {
    if (::unlink(path_.c_str()) != 0) {
        if (errno == ENOENT) return {};
        return sys_error("remove the apply journal", path_);
    }
    return fsync_dir(dir_);
}

}  // namespace avpn
