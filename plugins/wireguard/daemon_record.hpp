// What avpnd knows about the wireguard-go daemons it supervises, kept in the
// state directory so `avpnctl status` (another process) can show how often
// each interface's daemon was restarted and how its last one ended.
// "<ifname>\t<pid>\t<restarts>\t<last exit unix time>\t<last exit>" per line,
// written atomically by avpnd on every change. Missing: empty.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "common/result.hpp"

namespace avpn::wg {

struct DaemonRecord {
    pid_t pid = 0;          // the daemon serving the interface; 0 while none does
    int restarts = 0;       // exits followed by a start, across avpnd restarts
    std::string last_exit;  // "signal SIGKILL", "status 1", ...; "" none seen
    int64_t last_exit_at = 0;  // unix time; 0 none seen

    bool operator==(const DaemonRecord&) const = default;
};

std::string daemon_record_path(const std::string& state_dir);
std::map<std::string, DaemonRecord> load_daemon_records(const std::string& path);
Status save_daemon_records(const std::string& path, const std::map<std::string, DaemonRecord>& records);

}  // namespace avpn::wg
