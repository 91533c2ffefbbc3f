// The state-directory file behind "last failure" (status.hpp): a failure is
// an event of one moment, so it is written down by whoever saw it (apply,
// status --listen) and read back by later commands.
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "plugins/vici/connection.hpp"
#include "plugins/vici/fingerprint_store.hpp"
#include "plugins/vici/status.hpp"

namespace avpn::vici {

namespace {

constexpr const char* kHeader = "# avpn ipsec failures v1";

// Tabs and line breaks would break the line format; charon's words never need them.
std::string one_field(std::string s) {
    for (char& c : s)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return s;
}

}  // namespace

FailureTracker load_failures(const std::string& path) {
    FailureTracker out;
    std::istringstream in(read_advisory_record(path));  // never through a symlink
    std::string line;
    while (in && std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        size_t t1 = line.find('\t'), t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
        size_t t3 = t2 == std::string::npos ? t2 : line.find('\t', t2 + 1);
        if (t3 == std::string::npos) continue;
        Failure f;
        auto [p, ec] = std::from_chars(line.data() + t1 + 1, line.data() + t2, f.at);
        if (ec != std::errc() || p != line.data() + t2) continue;
        f.reason = line.substr(t2 + 1, t3 - t2 - 1);
        f.detail = line.substr(t3 + 1);
        std::string name = line.substr(0, t1);
        if (!name.starts_with(kConnPrefix) || f.reason.empty()) continue;
        out.remember(name, std::move(f));
    }
    return out;
}

Status save_failures(const std::string& path, const FailureTracker& failures) {
    std::string text = std::string(kHeader) + "\n";
    for (const auto& [name, f] : failures.all())
        text += name + "\t" + std::to_string(f.at) + "\t" + one_field(f.reason) + "\t" + one_field(f.detail) + "\n";
    return write_text_atomic(path, text);
}

}  // namespace avpn::vici
