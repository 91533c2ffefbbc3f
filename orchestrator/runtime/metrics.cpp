#include "orchestrator/runtime/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace avpn::runtime {

namespace {

class Exposition {
public:
    // HELP and TYPE once per family, before its samples.
    void family(const char* name, const char* type, const char* help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // labels: "k", "v", "k", "v", ...
    void sample(const char* name, std::initializer_list<std::string_view> labels, std::string_view value) {
        out_ += name;
        if (labels.size()) {
            out_ += '{';
            bool first = true;
            for (auto it = labels.begin(); it != labels.end(); it += 2) {
                if (!first) out_ += ',';
                first = false;
                out_ += *it;
                out_ += "=\"";
                out_ += escape_label(*(it + 1));
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string num(uint64_t v) { return std::to_string(v); }
std::string num(int64_t v) { return std::to_string(v); }
std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// A shortcut that is trying still sends through its hub (docs/shortcuts.md).
std::string path_of(const PeerRow& r) {
    if (r.shortcut == "up") return "shortcut";
    return r.direct && r.shortcut.empty() ? "direct" : "hub";
}

}  // namespace

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string render_metrics(const MetricsSnapshot& s) {
    Exposition e;
    e.family("avpn_peer_info", "gauge",
             "A member of the site's groups (1): role, transport and path (direct: a tunnel of its own; hub: through "
             "the hub named by via; shortcut: another spoke, directly over a shortcut).");
    for (const PeerRow& r : s.peers)
        e.sample("avpn_peer_info",
                 {"group", r.group, "site", r.site, "role", r.role, "transport", r.transport, "path", path_of(r), "via",
                  r.via},
                 "1");
    e.family("avpn_peer_handshake_age_seconds", "gauge",
             "Seconds since the peer's last handshake; no sample before the first one.");
    for (const PeerRow& r : s.peers) {
        if (r.last_handshake && *r.last_handshake > 0)
            e.sample("avpn_peer_handshake_age_seconds", {"group", r.group, "site", r.site},
                     num(std::max<int64_t>(0, s.now - *r.last_handshake)));
        else if (r.handshake_age)
            e.sample("avpn_peer_handshake_age_seconds", {"group", r.group, "site", r.site}, num(*r.handshake_age));
    }
    e.family("avpn_peer_receive_bytes_total", "counter", "Bytes received from the peer (WireGuard).");
    for (const PeerRow& r : s.peers)
        if (r.rx_bytes) e.sample("avpn_peer_receive_bytes_total", {"group", r.group, "site", r.site}, num(*r.rx_bytes));
    e.family("avpn_peer_transmit_bytes_total", "counter", "Bytes sent to the peer (WireGuard).");
    for (const PeerRow& r : s.peers)
        if (r.tx_bytes) e.sample("avpn_peer_transmit_bytes_total", {"group", r.group, "site", r.site}, num(*r.tx_bytes));
    // Active-active (docs/uplinks.md): each further path's tunnel on its own
    // device; the avpn_peer_* series above are path 0's.
    // One family over every further path: its value, or nullopt for no sample.
    auto path_family = [&](const char* name, const char* type, const char* help, auto&& value) {
        e.family(name, type, help);
        for (const PeerRow& r : s.peers)
            for (const PeerRow::Path& p : r.paths)
                if (std::optional<std::string> v = value(p))
                    e.sample(name, {"group", r.group, "site", r.site, "device", p.device}, *v);
    };
    path_family("avpn_peer_path_handshake_age_seconds", "gauge",
                "Seconds since the last handshake on one of the peer's further paths (active-active), by device.",
                [&](const PeerRow::Path& p) -> std::optional<std::string> {
                    if (!p.last_handshake || *p.last_handshake <= 0) return std::nullopt;
                    return num(std::max<int64_t>(0, s.now - *p.last_handshake));
                });
    path_family("avpn_peer_path_receive_bytes_total", "counter", "Bytes received from the peer on one of its further paths.",
                [](const PeerRow::Path& p) { return p.rx_bytes ? std::optional(num(*p.rx_bytes)) : std::nullopt; });
    path_family("avpn_peer_path_transmit_bytes_total", "counter", "Bytes sent to the peer on one of its further paths.",
                [](const PeerRow::Path& p) { return p.tx_bytes ? std::optional(num(*p.tx_bytes)) : std::nullopt; });
    e.family("avpn_peer_up", "gauge", "Whether the XFRM key exchange holds a session with the peer.");
    for (const PeerRow& r : s.peers)
        if (r.up) e.sample("avpn_peer_up", {"group", r.group, "site", r.site}, *r.up ? "1" : "0");
    e.family("avpn_uplink_up", "gauge", "Whether the uplink is healthy (carrier, address, default route and, once a target answered, probes).");
    for (const auto& u : s.uplinks) e.sample("avpn_uplink_up", {"uplink", u.name}, u.healthy ? "1" : "0");
    e.family("avpn_uplink_latency_seconds", "gauge", "Mean RTT of the answered probes among the last 10 rounds.");
    for (const auto& u : s.uplinks)
        if (u.latency_ms) e.sample("avpn_uplink_latency_seconds", {"uplink", u.name}, num(*u.latency_ms / 1000.0));
    e.family("avpn_uplink_probe_loss_ratio", "gauge", "Lost probe rounds among the last 10 (0 to 1).");
    for (const auto& u : s.uplinks)
        if (u.probes > 0)
            e.sample("avpn_uplink_probe_loss_ratio", {"uplink", u.name}, num(double(u.lost) / double(u.probes)));
    e.family("avpn_uplink_active", "gauge", "Whether the tunnels use this uplink.");
    for (const auto& u : s.uplinks) e.sample("avpn_uplink_active", {"uplink", u.name}, u.active ? "1" : "0");
    e.family("avpn_registry_up", "gauge", "Whether the registry answered within the last 60 s (6 keepalives).");
    for (const auto& r : s.registries)
        e.sample("avpn_registry_up", {"group", r.group, "registry", r.endpoint}, r.reachable ? "1" : "0");
    e.family("avpn_registry_last_answer_age_seconds", "gauge", "Time since the registry's last authenticated answer.");
    for (const auto& r : s.registries)
        if (r.last_answer_age_ms)
            e.sample("avpn_registry_last_answer_age_seconds", {"group", r.group, "registry", r.endpoint},
                     num(double(*r.last_answer_age_ms) / 1000.0));
    e.family("avpn_uplink_failovers_total", "counter", "Tunnel moves forced by a failed uplink since avpnd started.");
    e.sample("avpn_uplink_failovers_total", {}, num(s.uplink_failovers));
    if (s.last_failover_seconds) {
        e.family("avpn_uplink_last_failover_seconds", "gauge",
                 "The last failover's interruption: from the uplink's failure to the switch.");
        e.sample("avpn_uplink_last_failover_seconds", {}, num(*s.last_failover_seconds));
    }
    e.family("avpn_applies_total", "counter", "Converges (full applies and changes) since avpnd started.");
    e.sample("avpn_applies_total", {}, num(s.applies.applies));
    e.family("avpn_apply_errors_total", "counter", "Converges that failed since avpnd started.");
    e.sample("avpn_apply_errors_total", {}, num(s.applies.failures));
    e.family("avpn_apply_duration_seconds_total", "counter", "Time spent converging since avpnd started.");
    e.sample("avpn_apply_duration_seconds_total", {}, num(s.applies.total_seconds));
    e.family("avpn_apply_last_duration_seconds", "gauge", "How long the last converge took.");
    e.sample("avpn_apply_last_duration_seconds", {}, num(s.applies.last_seconds));
    e.family("avpn_wireguard_read_timestamp_seconds", "gauge",
             "When the WireGuard counters above were read (Unix time; 0: not yet).");
    e.sample("avpn_wireguard_read_timestamp_seconds", {}, num(s.wireguard_read_at));
    // rule="rule-N" is the site's Nth [[firewall]] rule in file order;
    // "default-drop" what no rule allowed (docs/firewall.md). A new table
    // (an apply that changed it) starts them at 0, which Prometheus reads
    // as a counter reset.
    e.family("avpn_firewall_packets_total", "counter",
             "Packets matched by a rule of table inet avpn (rule-N in file order, or default-drop).");
    for (const auto& [name, v] : s.firewall) e.sample("avpn_firewall_packets_total", {"rule", name}, num(v.packets));
    e.family("avpn_firewall_bytes_total", "counter",
             "Bytes matched by a rule of table inet avpn (rule-N in file order, or default-drop).");
    for (const auto& [name, v] : s.firewall) e.sample("avpn_firewall_bytes_total", {"rule", name}, num(v.bytes));
    e.family("avpn_firewall_read_timestamp_seconds", "gauge",
             "When the firewall counters above were read (Unix time; 0: not yet).");
    e.sample("avpn_firewall_read_timestamp_seconds", {}, num(s.firewall_read_at));
    return e.take();
}

}  // namespace avpn::runtime
