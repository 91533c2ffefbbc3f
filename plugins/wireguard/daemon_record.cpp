#include "plugins/wireguard/daemon_record.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/atomic_file.hpp"
#include "plugins/wireguard/uapi.hpp"

namespace avpn::wg {

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> out;
    for (size_t pos = 0;;) {
        size_t tab = line.find('\t', pos);
        out.push_back(line.substr(pos, tab == std::string_view::npos ? tab : tab - pos));
        if (tab == std::string_view::npos) return out;
        pos = tab + 1;
    }
}

template <class T>
bool parse_number(std::string_view text, T& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string daemon_record_path(const std::string& state_dir) { return state_dir + "/wireguard-go.state"; }

std::map<std::string, DaemonRecord> load_daemon_records(const std::string& path) {
    std::map<std::string, DaemonRecord> out;
    std::istringstream in(read_advisory_record(path));  // never through a symlink
    std::string line;
    while (in && std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto f = split_tabs(line);
        DaemonRecord r;
        std::string ifname(f[0]);
        // A line this version cannot read is skipped: the file is advisory.
        if (f.size() != 5 || !check_ifname(ifname) || !parse_number(f[1], r.pid) ||
            !parse_number(f[2], r.restarts) || !parse_number(f[3], r.last_exit_at))
            continue;
        r.last_exit = f[4];
        out[ifname] = r;
    }
    return out;
}

Status save_daemon_records(const std::string& path, const std::map<std::string, DaemonRecord>& records) {
    std::string text = "# avpn wireguard-go daemons v1 (avpnd)\n";
    for (const auto& [ifname, r] : records)
        text += ifname + "\t" + std::to_string(r.pid) + "\t" + std::to_string(r.restarts) + "\t" +
                std::to_string(r.last_exit_at) + "\t" + r.last_exit + "\n";
    return write_file_atomic(path, text, 0600);
}

}  // namespace avpn::wg
