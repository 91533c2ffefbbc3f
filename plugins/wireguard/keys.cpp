#include "plugins/wireguard/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace avpn::wg {

namespace {

constexpr size_t kMaxKeyFileBytes = 256;  // 44 base64 chars and some whitespace

std::string mode_text(mode_t mode) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
    return octal;
}

Error io_error(const std::string& path, int err) { return Error{"read private key", path, std::strerror(err), err}; }

// Reads at most kMaxKeyFileBytes of an open file into buf; returns the length.
Result<size_t> read_small(int fd, char* buf, const std::string& path) {
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, kMaxKeyFileBytes - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return io_error(path, errno);
        if (n == 0) return len;
        len += static_cast<size_t>(n);
        if (len == kMaxKeyFileBytes) return Error{"read private key", path, "file too large for a key"};
    }
}

Status check_mode(int fd, const std::string& path) {
    struct stat st {};
    if (fstat(fd, &st) != 0) return io_error(path, errno);
    if (!S_ISREG(st.st_mode)) return Error{"read private key", path, "not a regular file"};
    if (st.st_mode & 077)
        return Error{"read private key", path,
                     "mode " + mode_text(st.st_mode) + " lets group/others read it; chmod 600 it"};
    return {};
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

Result<SecretKey> read_private_key_file(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return io_error(path, errno);
    char text[kMaxKeyFileBytes];
    Status mode_ok = check_mode(fd, path);
    Result<size_t> len = mode_ok ? read_small(fd, text, path) : Result<size_t>(mode_ok.error());
    close(fd);
    if (!len) return len.error();
    auto key = crypto::base64_decode_key(trim(std::string_view(text, *len)));
    crypto::wipe(text, sizeof text);
    if (!key) return Error{"read private key", path, key.error().why};
    SecretKey secret(*key);
    crypto::wipe(key->data(), key->size());
    return secret;
}

Result<std::optional<SecretKey>> resolve_private_key(const WgDeviceChange& change) {
    if (change.private_key) return std::optional<SecretKey>(*change.private_key);
    if (!change.private_key_ref) return std::optional<SecretKey>();
    auto secret = read_private_key_file(change.private_key_ref->private_key_file);
    if (!secret)
        return Error{secret.error().what, change.ifname + ": " + secret.error().where, secret.error().why,
                     secret.error().code};
    return std::optional<SecretKey>(std::move(*secret));
}

}  // namespace avpn::wg
