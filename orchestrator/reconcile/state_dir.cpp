#include "orchestrator/reconcile/state_dir.hpp"

#include "orchestrator/reconcile/apply_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace avpn {

namespace {

constexpr const char* kRecordFile = "applied.state";
constexpr const char* kConfigFile = "applied-site.toml";
constexpr const char* kLockFile = "lock";

Error sys_error(std::string what, std::string where) {
    int err = errno;
    return Error{std::move(what), std::move(where), std::strerror(err), err};
}

// The record is line-based "key value" text: trivially parsed, diffable by
// an operator, and no JSON parser is needed for it.
std::string serialise(const AppliedRecord& r) {
    std::ostringstream o;
    o << "version 1\n";
    o << "site " << r.site << "\n";
    o << "config " << r.config_path << "\n";
    for (const auto& l : r.owned.links) o << "link " << l << "\n";
    for (uint32_t t : r.owned.tables) o << "table " << t << "\n";
    for (const auto& c : r.ipsec_connections) o << "ipsec " << c << "\n";
    return o.str();
}

Result<AppliedRecord> parse(const std::string& text, const std::string& where) {
    AppliedRecord r;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        auto sp = line.find(' ');
        std::string k = line.substr(0, sp), v = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (k == "version") {
            if (v != "1") return Error{"read state", where + ":" + std::to_string(n), "unknown version " + v};
        } else if (k == "site") {
            r.site = v;
        } else if (k == "config") {
            r.config_path = v;
        } else if (k == "link") {
            r.owned.links.insert(v);
        } else if (k == "table") {
            char* end = nullptr;
            unsigned long t = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end || t > 0xffffffffUL)
                return Error{"read state", where + ":" + std::to_string(n), "bad table id '" + v + "'"};
            r.owned.tables.insert(uint32_t(t));
        } else if (k == "ipsec") {
            r.ipsec_connections.push_back(v);
        } else if (!k.empty()) {
            return Error{"read state", where + ":" + std::to_string(n), "unknown entry '" + k + "'"};
        }
    }
    return r;
}

}  // namespace

StateDir::~StateDir() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status StateDir::lock() {
    if (Status s = writer_.acquire(); !s) return s;
    if (::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("create state directory", path_);
    std::string lf = path_ + "/" + kLockFile;
    lock_fd_ = ::open(lf.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return sys_error("open lock", lf);
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return Error{"locked", lf, "another avpnctl apply or avpnd holds the lock", EWOULDBLOCK};
        return sys_error("lock", lf);
    }
    return {};
}

Result<AppliedRecord> StateDir::load() const {
    std::string p = path_ + "/" + kRecordFile;
    std::ifstream in(p);
    if (!in) {
        if (errno == ENOENT) return AppliedRecord{};
        return sys_error("read state", p);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), p);
}

Status StateDir::save(const AppliedRecord& r, const std::string& config_text) const {
    if (Status s = write_file_atomic(path_ + "/" + kConfigFile, config_text, 0600); !s) return s;
    if (Status s = write_file_atomic(path_ + "/" + kRecordFile, serialise(r), 0600); !s) return s;
    // The record names all the journal did (or the apply removed it).
    return ApplyJournal(path_).clear();
}

Status StateDir::clear() const {
    for (const char* f : {kRecordFile, kConfigFile}) {
        std::string p = path_ + "/" + f;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) return sys_error("remove state", p);
    }
    return ApplyJournal(path_).clear();
}

}  // namespace avpn
