#include "orchestrator/config/values.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

namespace avpn::config {

namespace {

bool type_is(const ValueCtx& c, const Node& n, const std::string& path, Node::Type want) {
    if (n.type == want) return true;
    c.error(n, path, "expected " + std::string(type_name(want)) + ", found " + std::string(type_name(n.type)));
    return false;
}

std::optional<uint64_t> parse_digits(std::string_view s, uint64_t max) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

// Quoted for messages; values here are never secrets.
std::string quoted(std::string_view s) { return "\"" + shown(s) + "\""; }

}  // namespace

std::optional<std::string> read_string(const ValueCtx& c, const Node& n, const std::string& path) {
    if (!type_is(c, n, path, Node::Type::string)) return std::nullopt;
    // Every string avpn reads is a name, a path, an address, an identity or
    // a comment: printable text. A NUL would cut a path or an interface name
    // short where the kernel or libc reads it (so avpn would act on another
    // object than the one checked), and other control characters forge lines
    // in logs, reports and charon's configuration.
    for (size_t i = 0; i < n.text.size(); ++i) {
        unsigned char ch = static_cast<unsigned char>(n.text[i]);
        if (ch >= 0x20 && ch != 0x7f) continue;
        char code[8];
        std::snprintf(code, sizeof code, "\\x%02x", ch);
        c.error(n, path, quoted(n.text) + " contains a control character (" + code + " at byte " +
                             std::to_string(i) + "); names, paths and addresses must be printable text");
        return std::nullopt;
    }
    return n.text;
}

std::optional<bool> read_bool(const ValueCtx& c, const Node& n, const std::string& path) {
    if (!type_is(c, n, path, Node::Type::boolean)) return std::nullopt;
    return n.boolean;
}

std::optional<int64_t> read_int(const ValueCtx& c, const Node& n, const std::string& path, int64_t min,
                                int64_t max) {
    if (!type_is(c, n, path, Node::Type::integer)) return std::nullopt;
    if (n.integer < min || n.integer > max) {
        c.error(n, path, std::to_string(n.integer) + " is out of range (" + std::to_string(min) + ".." +
                             std::to_string(max) + ")");
        return std::nullopt;
    }
    return n.integer;
}

std::optional<Prefix> read_prefix(const ValueCtx& c, const Node& n, const std::string& path) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    auto slash = text->find('/');
    if (slash == std::string::npos) {
        c.error(n, path, quoted(*text) + " is not a prefix: expected address/length, e.g. 10.0.60.0/24");
        return std::nullopt;
    }
    auto addr = IpAddr::parse(std::string_view(*text).substr(0, slash));
    if (!addr) {
        c.error(n, path, quoted(*text) + " is not a prefix: " + quoted(text->substr(0, slash)) +
                             " is not an IP address");
        return std::nullopt;
    }
    auto len = parse_digits(std::string_view(*text).substr(slash + 1), uint64_t(addr->max_len()));
    if (!len) {
        c.error(n, path, quoted(*text) + " is not a prefix: the length must be 0.." +
                             std::to_string(addr->max_len()));
        return std::nullopt;
    }
    Prefix p = Prefix::make(*addr, uint8_t(*len));
    if (p.addr != *addr) {
        c.error(n, path, quoted(*text) + " has host bits set; did you mean " + p.str() + "?");
        return std::nullopt;
    }
    return p;
}

std::optional<IpAddr> read_address(const ValueCtx& c, const Node& n, const std::string& path) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    auto a = IpAddr::parse(*text);
    if (!a) c.error(n, path, quoted(*text) + " is not an IP address");
    return a;
}

std::optional<Endpoint> read_endpoint(const ValueCtx& c, const Node& n, const std::string& path,
                                      std::optional<uint16_t> default_port) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    auto e = Endpoint::parse(*text, default_port);
    if (!e) {
        std::string form = default_port ? "address[:port]" : "address:port";
        c.error(n, path, quoted(*text) + " is not an endpoint: expected " + form +
                             " with a port 1..65535, e.g. 192.0.2.10:51820 or [2001:db8::1]:51820");
    }
    return e;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view s) {
    static constexpr struct {
        char unit;
        int64_t seconds;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    if (s.empty()) return std::nullopt;
    int64_t total = 0;
    size_t next_unit = 0;  // units must come largest first, each once
    while (!s.empty()) {
        size_t digits = 0;
        while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
        if (digits == 0 || digits == s.size()) return std::nullopt;
        auto v = parse_digits(s.substr(0, digits), 1'000'000'000);
        if (!v) return std::nullopt;
        size_t u = next_unit;
        while (u < std::size(units) && units[u].unit != s[digits]) ++u;
        if (u == std::size(units)) return std::nullopt;
        total += int64_t(*v) * units[u].seconds;
        if (total > int64_t(std::numeric_limits<int32_t>::max())) return std::nullopt;
        next_unit = u + 1;
        s.remove_prefix(digits + 1);
    }
    return std::chrono::seconds(total);
}

std::optional<std::chrono::seconds> read_duration(const ValueCtx& c, const Node& n, const std::string& path) {
    if (n.type == Node::Type::integer) {
        c.error(n, path, "expected a duration string with a unit, e.g. \"" + std::to_string(n.integer) + "s\"");
        return std::nullopt;
    }
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    auto d = parse_duration(*text);
    if (!d)
        c.error(n, path, quoted(*text) + " is not a duration: use units d, h, m, s largest first, e.g. \"30s\", \"1h30m\"");
    return d;
}

namespace {

constexpr struct {
    std::string_view unit;
    unsigned shift;
} kSizeUnits[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};

}  // namespace

std::optional<uint64_t> parse_size(std::string_view s) {
    size_t digits = 0;
    while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
    auto v = parse_digits(s.substr(0, digits), uint64_t(1) << 50);
    if (!v) return std::nullopt;
    std::string_view unit = s.substr(digits);
    if (unit.empty() || unit == "B") return v;
    for (const auto& u : kSizeUnits)
        if (unit == u.unit) return *v <= (uint64_t(1) << 50) >> u.shift ? std::optional(*v << u.shift) : std::nullopt;
    return std::nullopt;
}

std::string size_text(uint64_t bytes) {
    for (const auto& u : kSizeUnits)
        if (bytes && bytes % (uint64_t(1) << u.shift) == 0)
            return std::to_string(bytes >> u.shift) + std::string(u.unit);
    return std::to_string(bytes);
}

// Sizes are written as operators think of them ("64KiB"); an integer is
// taken as bytes. Only binary units: "KB" would leave 1000 or 1024 to guess.
std::optional<uint64_t> read_size(const ValueCtx& c, const Node& n, const std::string& path, uint64_t min,
                                  uint64_t max) {
    std::optional<uint64_t> v;
    if (n.type == Node::Type::integer) {
        if (n.integer >= 0) v = uint64_t(n.integer);
    } else if (n.type != Node::Type::string) {
        c.error(n, path, "expected a size (bytes, or a string such as \"64KiB\"), found " +
                             std::string(type_name(n.type)));
        return std::nullopt;
    } else {
        auto text = read_string(c, n, path);
        if (!text) return std::nullopt;
        v = parse_size(*text);
        if (!v) {
            c.error(n, path, quoted(*text) + " is not a size: a number of bytes, or one with a unit KiB, MiB, GiB "
                                             "or TiB, e.g. \"64KiB\"");
            return std::nullopt;
        }
    }
    if (!v || *v < min || *v > max) {
        const std::string shown_value = v ? size_text(*v) : std::to_string(n.integer);
        c.error(n, path, shown_value + " is out of range (" + size_text(min) + ".." + size_text(max) + ")");
        return std::nullopt;
    }
    return v;
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 63 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
    for (char ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') return false;
    return true;
}

std::optional<std::string> read_name(const ValueCtx& c, const Node& n, const std::string& path) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    if (!valid_name(*text)) {
        c.error(n, path, quoted(*text) + " is not a valid name: use 1..63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        return std::nullopt;
    }
    return text;
}

std::string ifname_problem(std::string_view s) {
    if (s.empty()) return "an interface name cannot be empty";
    if (s.size() > 15) return "is " + std::to_string(s.size()) + " characters; Linux interface names have at most 15";
    if (s == "." || s == "..") return "is not a valid interface name";
    for (char ch : s)
        if (ch == '/' || ch == ':' || std::isspace(static_cast<unsigned char>(ch)) || !std::isprint(static_cast<unsigned char>(ch)))
            return "may not contain '/', ':', spaces or control characters";
    return "";
}

std::optional<std::string> read_ifname(const ValueCtx& c, const Node& n, const std::string& path) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    if (std::string why = ifname_problem(*text); !why.empty()) {
        c.error(n, path, "interface name " + quoted(*text) + " " + why);
        return std::nullopt;
    }
    return text;
}

bool valid_hostname(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    if (s.back() == '.') s.remove_suffix(1);
    size_t label = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        char ch = s[i];
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
        if (label == 0 && ch == '-') return false;
        ++label;
    }
    // A numeric last label means a mistyped address ("10.0.0.256"), not a name.
    std::string_view last = s.substr(s.rfind('.') == std::string_view::npos ? 0 : s.rfind('.') + 1);
    for (char ch : last)
        if (!std::isdigit(static_cast<unsigned char>(ch))) return true;
    return false;
}

std::optional<std::string> read_hostname_or_ip(const ValueCtx& c, const Node& n, const std::string& path) {
    auto text = read_string(c, n, path);
    if (!text) return std::nullopt;
    if (IpAddr::parse(*text) || valid_hostname(*text)) return text;
    c.error(n, path, quoted(*text) + " is neither an IP address nor a host name");
    return std::nullopt;
}

}  // namespace avpn::config
