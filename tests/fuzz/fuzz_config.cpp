// Fuzzes the configuration loader: TOML syntax, every value reader, the
// member-list parser and all cross checks. The input is a site file,
// optionally followed by a line "#--- members" and a member list. Files the
// site names are served from memory (the member list part for any text file,
// a fixed key or PSK for any secret), so nothing on disk is read or written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "orchestrator/config/files.hpp"
#include "orchestrator/config/load.hpp"

namespace {

class FuzzFiles final : public avpn::config::FileSource {
public:
    explicit FuzzFiles(std::string_view members) : members_(members) {}

    avpn::Result<std::string> read_text(const std::string&) const override {
        if (members_.empty()) return avpn::Error{"open", "", "no such file"};
        return std::string(members_);
    }
    avpn::Result<avpn::config::Secret> read_secret(const std::string& path) const override {
        if (path.size() > 4 && path.compare(path.size() - 4, 4, ".psk") == 0)
            return avpn::config::Secret("fuzz pre-shared key\n");
        return avpn::config::Secret("IG4UnWA84NnyiEiP7LXf51yog8qQOSXKTgHGBN87bWY=\n");
    }

private:
    std::string_view members_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view site = input, members;
    constexpr std::string_view kSplit = "\n#--- members\n";
    if (auto at = input.find(kSplit); at != std::string_view::npos) {
        site = input.substr(0, at);
        members = input.substr(at + kSplit.size());
    }
    FuzzFiles files(members);
    avpn::LoadResult r = avpn::load_site_text(site, "/nonexistent/avpn-fuzz/site.toml", files);
    // Every diagnostic must be printable and located.
    for (const avpn::Error& e : r.errors) {
        std::string line = avpn::format_diagnostic(e);
        if (line.empty() || e.where.empty()) __builtin_trap();
    }
    if (r.ok() != r.errors.empty()) __builtin_trap();
    return 0;
}
