#include "plugins/wireguard/uapi.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "plugins/wireguard/keys.hpp"
#include "plugins/wireguard/uapi_codec.hpp"
#include "plugins/wireguard/uapi_conn.hpp"

namespace avpn::wg {

namespace {

constexpr std::string_view kSocketSuffix = ".sock";

UapiLimits limits_of(const UapiOptions& o) {
    return UapiLimits{.timeout_ms = o.timeout_ms,
                      .max_response_bytes = o.max_response_bytes,
                      .max_line_bytes = o.max_line_bytes};
}

// After a set request: the single errno line that ends the response.
Status read_errno(UapiConnection& conn, const std::string& ifname) {
    auto line = conn.read_line();
    if (!line) return line.error();
    return uapi::parse_errno(*line, ifname);
}

}  // namespace

Status check_ifname(const std::string& ifname) {
    auto bad = [&](const char* why) { return Status(Error{"invalid interface name", "'" + ifname + "'", why}); };
    if (ifname.empty() || ifname.size() > 15) return bad("must be 1 to 15 bytes long");
    if (ifname == "." || ifname == "..") return bad("reserved name");
    for (unsigned char c : ifname)
        if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return bad("contains '/', ':', a space or a control character");
    return {};
}

std::string uapi_socket_path(const std::string& socket_dir, const std::string& ifname) {
    return socket_dir + "/" + ifname + std::string(kSocketSuffix);
}

bool uapi_socket_exists(const std::string& socket_dir, const std::string& ifname) {
    struct stat st {};
    return stat(uapi_socket_path(socket_dir, ifname).c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

Result<std::vector<std::string>> list_uapi_interfaces(const std::string& socket_dir) {
    std::vector<std::string> names;
    DIR* dir = opendir(socket_dir.c_str());
    if (!dir) {
        int err = errno;
        if (err == ENOENT) return names;  // no userspace daemon ever ran
        return Error{"list UAPI sockets", socket_dir, std::strerror(err), err};
    }
    while (const dirent* e = readdir(dir)) {
        std::string_view file = e->d_name;
        if (file.size() <= kSocketSuffix.size() || !file.ends_with(kSocketSuffix)) continue;
        std::string ifname(file.substr(0, file.size() - kSocketSuffix.size()));
        if (uapi_socket_exists(socket_dir, ifname)) names.push_back(std::move(ifname));
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

Result<WgDeviceStatus> UapiBackend::status(const std::string& ifname) {
    if (Status st = check_ifname(ifname); !st) return st.error();
    auto conn = UapiConnection::open(uapi_socket_path(opt_.socket_dir, ifname), ifname, limits_of(opt_));
    if (!conn) return conn.error();
    if (Status st = conn->send("get=1\n\n"); !st) return st.error();
    uapi::GetParser parser(ifname);
    while (!parser.done()) {
        auto line = conn->read_line();
        if (!line) return line.error();
        if (line->empty()) break;  // finish() reports the missing errno line
        if (Status st = parser.feed(*line); !st) return st.error();
    }
    return parser.finish();
}

Result<nl::WgDevice> UapiBackend::get(const std::string& ifname) { return device_of_status(ifname); }

Status UapiBackend::set(const WgDeviceChange& change) {
    if (change.empty()) return {};  // a no-op apply writes nothing
    if (Status st = check_ifname(change.ifname); !st) return st;
    if (Status st = uapi::validate(change); !st) return st;
    auto key = resolve_private_key(change);
    if (!key) return key.error();
    auto conn = UapiConnection::open(uapi_socket_path(opt_.socket_dir, change.ifname), change.ifname,
                                     limits_of(opt_));
    if (!conn) return conn.error();
    Status sent = uapi::encode_set(change, *key, [&](std::string_view chunk) { return conn->send(chunk); });
    if (!sent) return sent;
    return read_errno(*conn, change.ifname);
}

}  // namespace avpn::wg
