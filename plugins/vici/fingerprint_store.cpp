#include "plugins/vici/fingerprint_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"

namespace avpn::vici {

namespace {

constexpr const char* kHeader = "# avpn vici fingerprints v1";

bool is_hex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Error io_error(const char* what, const std::string& path) {
    int err = errno;
    return Error{what, path, std::strerror(err), err};
}

}  // namespace

Fingerprints load_fingerprints(const std::string& path, size_t* skipped) {
    Fingerprints out;
    size_t bad = 0;
    std::istringstream in(read_advisory_record(path));  // never through a symlink
    std::string line;
    while (in && std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string name, hex, extra;
        fields >> name >> hex;
        if (name.empty() || !is_hex64(hex) || (fields >> extra)) {
            ++bad;
            continue;
        }
        out[name] = hex;
    }
    if (skipped) *skipped = bad;
    return out;
}

Status save_fingerprints(const std::string& path, const Fingerprints& fps) {
    std::string text = std::string(kHeader) + "\n";
    for (const auto& [name, hex] : fps) text += name + " " + hex + "\n";
    return write_text_atomic(path, text);
}

Status write_text_atomic(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("writing vici state", tmp);
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            Error e = io_error("writing vici state", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return e;
        }
        off += size_t(n);
    }
    const bool synced = ::fsync(fd) == 0;
    if (::close(fd) != 0 || !synced) {
        Error e = io_error("syncing vici state", tmp);
        ::unlink(tmp.c_str());
        return e;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Error e = io_error("renaming vici state", path);
        ::unlink(tmp.c_str());
        return e;
    }
    return {};
}

}  // namespace avpn::vici
