// How the loader reads the files a site file names: member lists (plain
// text) and secrets (key, PSK and group-key files). Behind an interface so the
// fuzzer and tests can serve files from memory; system_files() is the real
// file system.
#pragma once

#include <string>

#include "common/result.hpp"

namespace avpn::config {

// Secret file contents: wiped when destroyed, never copied, never printed.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string text) : text_(std::move(text)) {}
    Secret(Secret&& o) noexcept : text_(std::move(o.text_)) { o.wipe(); }
    Secret& operator=(Secret&& o) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret() { wipe(); }

    // The contents without surrounding whitespace (a trailing newline is normal).
    std::string_view trimmed() const;

private:
    void wipe();
    std::string text_;
};

class FileSource {
public:
    virtual ~FileSource() = default;
    // Whole file. Error.why says why it could not be read (errno text).
    virtual Result<std::string> read_text(const std::string& path) const = 0;
    // A regular file that neither group nor others may read or write (mode &
    // 077 == 0). Error.why names the path, the mode in octal and the fix; it
    // never contains the file's contents.
    virtual Result<Secret> read_secret(const std::string& path) const = 0;
};

const FileSource& system_files();

// "dir/rel" unless rel is absolute; dir of "site.toml" is ".".
std::string directory_of(const std::string& path);
std::string resolve_path(const std::string& dir, const std::string& rel);
// `path` as diagnostics print it: "." segments and "dir/.." pairs dropped,
// repeated slashes joined, lexically (symbolic links are not followed), so
// "sites/../members.toml" prints as "members.toml". A relative path stays
// relative; leading ".." segments stay.
std::string normal_path(const std::string& path);

}  // namespace avpn::config
