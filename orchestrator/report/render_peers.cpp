#include "orchestrator/report/render_peers.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

#include "orchestrator/report/render_status.hpp"

namespace avpn::report {

namespace {

using runtime::PeerRow;

constexpr size_t kWidth = 80;

// `head` then the items, wrapped at kWidth; continuation lines are
// indented under the first item (a single item longer than a line stays
// whole).
std::string wrapped(const std::string& head, const std::vector<std::string>& items, const char* separator = ",") {
    std::string out, line = head;
    const std::string indent(head.size(), ' ');
    bool first_on_line = true;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string piece = items[i] + (i + 1 < items.size() ? separator : "");
        if (!first_on_line && line.size() + 1 + piece.size() > kWidth) {
            out += line + "\n";
            line = indent;
            first_on_line = true;
        }
        if (!first_on_line) line += " ";
        line += piece;
        first_on_line = false;
    }
    return out + line + "\n";
}

// A learned contact (the registries', or where the peer roamed to) that a
// handshake went through: the NATs on the way let both ends in.
bool punched(const PeerRow& r) {
    if (r.contact != "learned") return false;
    return (r.last_handshake && *r.last_handshake > 0) || (r.up && *r.up);
}

// A spoke with no shortcut running: why not, as avpnd's keeper sees it.
std::string shortcut_note(const PeerRow& r) {
    if (r.shortcut_idle == "held")
        return "; no shortcut for " + age((r.shortcut_for_ms.value_or(0) + 999) / 1000) + " (" + r.shortcut_why + ")";
    if (r.shortcut_idle == "idle" && !r.shortcut_why.empty()) return "; no shortcut: " + r.shortcut_why;
    return "";
}

std::string path_text(const PeerRow& r) {
    if (!r.direct)
        return (r.via.empty() ? "no tunnel of its own, and no peer routes its exports" : "via " + r.via) +
               shortcut_note(r);
    if (!r.endpoint) return "direct, no endpoint yet (it must reach this site first)";
    if (r.shortcut == "trying")
        return "shortcut trying " + r.endpoint->str() + (r.via.empty() ? "" : ", traffic via " + r.via);
    if (r.shortcut == "up") return "shortcut up to " + r.endpoint->str();
    if (r.contact == "static") return "direct to " + r.endpoint->str() + " (static contact)";
    return "direct to " + r.endpoint->str() + (punched(r) ? " (learned, punched)" : " (learned)");
}

std::string tunnel_text(const PeerRow& r, int64_t now) {
    std::ostringstream o;
    if (r.transport == "xfrm") {
        if (!r.up) return "";
        o << (*r.up ? "up" : "DOWN");
        if (r.handshake_age) o << ", handshake " << age(*r.handshake_age) << " ago";
        else o << ", no handshake yet";
    } else {
        if (!r.last_handshake) return "";
        if (*r.last_handshake == 0) o << "no handshake yet";
        else o << "handshake " << age(now - *r.last_handshake) << " ago";
    }
    if (r.rx_bytes && r.tx_bytes) o << ", rx " << byte_size(*r.rx_bytes) << ", tx " << byte_size(*r.tx_bytes);
    // Active-active: each further path, on its own device.
    for (const PeerRow::Path& p : r.paths) {
        o << "; " << p.device << " " << (p.endpoint ? p.endpoint->str() : std::string("no endpoint yet"));
        if (p.last_handshake) o << (*p.last_handshake == 0 ? ", no handshake yet" : ", handshake " + age(now - *p.last_handshake) + " ago");
        if (p.rx_bytes && p.tx_bytes) o << ", rx " << byte_size(*p.rx_bytes) << ", tx " << byte_size(*p.tx_bytes);
    }
    return o.str();
}

// avpnd's probes to the peer: "probes via wan0: 0.4 ms, 0 % lost of 10".
std::string probe_text(const PeerRow& r) {
    if (r.probe_uplink.empty() || r.probes == 0) return "";
    std::ostringstream o;
    o << "probes via " << r.probe_uplink << ": ";
    if (r.probe_latency_ms) o << std::fixed << std::setprecision(1) << *r.probe_latency_ms << " ms, ";
    o << (100 * r.probes_lost / r.probes) << " % lost of " << r.probes;
    return o.str();
}

}  // namespace

std::string wrap_words(const std::string& indent, const std::string& text) {
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string word; in >> word;) words.push_back(word);
    return wrapped(indent, words, "");
}

std::string byte_size(uint64_t bytes) {
    static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double v = double(bytes);
    int u = -1;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string age(int64_t s) {
    if (s < 0) s = 0;
    if (s < 120) return std::to_string(s) + " s";
    if (s < 7200) return std::to_string(s / 60) + " min";
    if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
    return std::to_string(s / 86400) + " d";
}

std::string peers_text(const std::vector<PeerRow>& rows, const std::optional<Error>& error, int64_t now) {
    if (error) return "peers: " + error->str() + "\n";
    std::ostringstream o;
    o << "peers (" << rows.size() << "):\n";
    for (const PeerRow& r : rows) {
        o << "  " << r.site << " (" << r.role << ", " << r.group << ")"
          << (r.tunnel_address ? " " + r.tunnel_address->str() : std::string()) << "\n";
        o << "    " << path_text(r) << "\n";
        std::vector<std::string> exports;
        for (const Prefix& p : r.exports) exports.push_back(p.str());
        if (exports.empty()) exports.push_back("(nothing)");
        o << wrapped("    exports ", exports);
        if (std::string t = tunnel_text(r, now); !t.empty()) o << "    " << t << "\n";
        if (std::string t = probe_text(r); !t.empty()) o << "    " << t << "\n";
    }
    return o.str();
}

void peers_json(JsonWriter& w, const std::vector<PeerRow>& rows, const std::optional<Error>& error) {
    w.key("peers_error");
    if (error)
        w.begin_object().field("what", error->what).field("where", error->where).field("why", error->why).end_object();
    else
        w.null();
    w.key("peers").begin_array();
    for (const PeerRow& r : rows) {
        w.begin_object().field("site", r.site).field("group", r.group).field("role", r.role)
            .field("transport", r.transport).field("interface", r.interface).field("public_key", r.public_key)
            .key("tunnel_address");
        r.tunnel_address ? (void)w.value(r.tunnel_address->str()) : (void)w.null();
        std::vector<std::string> exports;
        for (const Prefix& p : r.exports) exports.push_back(p.str());
        w.field_strings("exports", exports).field("direct", r.direct);
        w.key("endpoint");
        r.endpoint ? (void)w.value(r.endpoint->str()) : (void)w.null();
        w.field("contact", r.contact).field("punched", punched(r)).field("via", r.via);
        if (!r.shortcut.empty()) w.field("shortcut", r.shortcut);
        if (!r.shortcut_idle.empty()) w.field("shortcut_idle", r.shortcut_idle);
        if (!r.shortcut_why.empty()) w.field("shortcut_why", r.shortcut_why);
        if (r.shortcut_for_ms) w.field("shortcut_for_ms", *r.shortcut_for_ms);
        w.field("last_handshake", r.last_handshake).field("rx_bytes", r.rx_bytes).field("tx_bytes", r.tx_bytes);
        w.field("up", r.up).field("handshake_age_s", r.handshake_age);
        if (!r.paths.empty()) {  // active-active: path 1 on (docs/cli.md)
            w.key("paths").begin_array();
            for (const PeerRow::Path& p : r.paths) {
                w.begin_object().field("device", p.device).key("endpoint");
                p.endpoint ? (void)w.value(p.endpoint->str()) : (void)w.null();
                w.field("last_handshake", p.last_handshake).field("rx_bytes", p.rx_bytes).field("tx_bytes", p.tx_bytes);
                w.end_object();
            }
            w.end_array();
        }
        w.key("probe");
        if (r.probe_uplink.empty()) {
            w.null();
        } else {
            w.begin_object().field("uplink", r.probe_uplink).field("probes", uint64_t(r.probes));
            w.field("lost", uint64_t(r.probes_lost)).key("latency_ms");
            r.probe_latency_ms ? (void)w.value(*r.probe_latency_ms) : (void)w.null();
            w.end_object();
        }
        w.end_object();
    }
    w.end_array();
}

std::string uplinks_text(const std::vector<runtime::DaemonFacts::Uplink>& uplinks) {
    std::ostringstream o;
    o << "uplinks:\n";
    for (const auto& u : uplinks) {
        o << "  " << u.name << ": " << (u.address ? u.address->str() : std::string("no address")) << ", "
          << (u.healthy ? "healthy" : "down (" + u.why + ")") << (u.active ? ", in use" : "");
        if (u.probes > 0) {
            o << ", probes: ";
            if (u.latency_ms) o << std::fixed << std::setprecision(1) << *u.latency_ms << " ms, ";
            o << (100 * u.lost / u.probes) << " % lost of " << u.probes;
        }
        if (!u.probe_problem.empty()) o << ", probe problem: " << u.probe_problem;
        o << "\n";
    }
    return o.str();
}

void uplinks_json(JsonWriter& w, const std::vector<runtime::DaemonFacts::Uplink>& uplinks) {
    w.key("uplinks").begin_array();
    for (const auto& u : uplinks) {
        w.begin_object().field("name", u.name).key("address");
        u.address ? (void)w.value(u.address->str()) : (void)w.null();
        w.field("healthy", u.healthy).field("why", u.why).field("active", u.active);
        w.field("probes", uint64_t(u.probes)).field("probes_lost", uint64_t(u.lost)).key("latency_ms");
        u.latency_ms ? (void)w.value(*u.latency_ms) : (void)w.null();
        w.field("probe_problem", u.probe_problem).end_object();
    }
    w.end_array();
}

std::string registries_text(const runtime::DaemonFacts& d, int64_t) {
    if (d.registries.empty()) return "";
    std::ostringstream o;
    o << "registries:\n";
    for (const auto& r : d.registries) {
        o << "  " << r.group << " " << r.endpoint << ": " << (r.reachable ? "reachable" : "UNREACHABLE");
        if (r.last_answer_age_ms) o << ", last answer " << age(*r.last_answer_age_ms / 1000) << " ago";
        else o << ", never answered";
        if (!r.observed.empty()) o << ", sees us as " << r.observed;
        if (r.rejected) o << ", " << r.rejected << " datagrams rejected";
        if (!r.problem.empty()) o << ", problem: " << r.problem;
        o << "\n";
    }
    for (const auto& n : d.nat) {
        o << "  NAT type of group " << n.group << "'s port";
        if (!n.uplink.empty()) o << " on " << n.uplink;
        o << ": " << n.type << ", filtering " << n.filtering
          << (n.active || n.uplink.empty() ? "" : " (last tested; not in use)") << "\n";
    }
    return o.str();
}

void registries_json(JsonWriter& w, const runtime::DaemonFacts& d) {
    w.key("registries").begin_array();
    for (const auto& r : d.registries) {
        w.begin_object().field("group", r.group).field("endpoint", r.endpoint).field("reachable", r.reachable);
        w.key("last_answer_age_ms");
        r.last_answer_age_ms ? (void)w.value(*r.last_answer_age_ms) : (void)w.null();
        w.field("observed", r.observed).field("handshakes", r.handshakes).field("rejected", r.rejected);
        w.field("problem", r.problem).end_object();
    }
    w.end_array();
    w.key("nat").begin_array();
    for (const auto& n : d.nat)
        w.begin_object()
            .field("group", n.group)
            .field("uplink", n.uplink)
            .field("type", n.type)
            .field("active", n.active)
            .field("filtering", n.filtering)
            .end_object();
    w.end_array();
}

std::string events_text(const std::vector<runtime::SiteEvent>& events) {
    std::ostringstream o;
    o << "events (last " << events.size() << ", oldest first):\n";
    for (const auto& e : events) {
        // The time in the lead, the text wrapped word by word under it.
        o << wrap_words("  " + clock_time(e.at).substr(11, 8) + " " + e.kind + ": ", e.text);
    }
    return o.str();
}

void events_json(JsonWriter& w, const std::vector<runtime::SiteEvent>& events) {
    w.key("events").begin_array();
    for (const auto& e : events) w.begin_object().field("at", e.at).field("kind", e.kind).field("text", e.text).end_object();
    w.end_array();
}

}  // namespace avpn::report
