// Typed reading of single TOML values: each function either returns the value
// or records one error (at the value's position, under `path`) and returns
// nullopt. Syntax of avpn's own value kinds lives here: prefixes, addresses,
// endpoints, durations, names, interface names.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/ip.hpp"
#include "orchestrator/config/diag.hpp"

namespace avpn::config {

struct ValueCtx {
    Diag& diag;
    const std::string& file;

    SourceLoc loc(const Node& n) const { return loc_at(file, n.pos); }
    void error(const Node& n, const std::string& path, std::string message) const {
        diag.error(loc(n), path, std::move(message));
    }
};

std::optional<std::string> read_string(const ValueCtx&, const Node&, const std::string& path);
std::optional<bool> read_bool(const ValueCtx&, const Node&, const std::string& path);
std::optional<int64_t> read_int(const ValueCtx&, const Node&, const std::string& path, int64_t min,
                                int64_t max);
std::optional<Prefix> read_prefix(const ValueCtx&, const Node&, const std::string& path);
std::optional<IpAddr> read_address(const ValueCtx&, const Node&, const std::string& path);
// "192.0.2.1:51820", "[2001:db8::1]:51820"; the port may be omitted only when
// default_port is given.
std::optional<Endpoint> read_endpoint(const ValueCtx&, const Node&, const std::string& path,
                                      std::optional<uint16_t> default_port);
// "10s", "30m", "8h", "1h30m", "2d": units d, h, m, s, largest first, each once.
std::optional<std::chrono::seconds> read_duration(const ValueCtx&, const Node&, const std::string& path);
// A size in bytes, min..max: an integer (bytes) or a string with a binary
// unit, "64KiB", "512MiB", "3TiB" (KiB, MiB, GiB, TiB).
std::optional<uint64_t> read_size(const ValueCtx&, const Node&, const std::string& path, uint64_t min,
                                  uint64_t max);
// Names of sites, groups, VLANs, tunnels: 1..63 of [A-Za-z0-9._-], starting
// with a letter or digit (they end up in interface names, nft sets, logs).
std::optional<std::string> read_name(const ValueCtx&, const Node&, const std::string& path);
// Linux interface names: 1..15 bytes, no '/', ':' or whitespace.
std::optional<std::string> read_ifname(const ValueCtx&, const Node&, const std::string& path);
std::optional<std::string> read_hostname_or_ip(const ValueCtx&, const Node&, const std::string& path);

// Exposed for tests and for checks on defaults.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);
std::optional<uint64_t> parse_size(std::string_view text);  // up to 2^50 bytes
std::string size_text(uint64_t bytes);  // 65536 -> "64KiB", 1000 -> "1000"
bool valid_name(std::string_view text);
std::string ifname_problem(std::string_view name);  // empty when fine
bool valid_hostname(std::string_view text);

}  // namespace avpn::config
