#include "orchestrator/report/render_status.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <sstream>

#include "common/json.hpp"
#include "orchestrator/report/render_apply.hpp"
#include "orchestrator/report/render_peers.hpp"

namespace avpn::report {

namespace {

using runtime::DaemonFacts;
using runtime::WgGroupStatus;

std::string tunnel_text(const vici::TunnelStatus& t) {
    std::ostringstream o;
    o << "  " << tunnel_line(t) << "\n";
    if (t.established_seconds >= 0)
        o << "    established " << clock_time(t.established_since) << " (" << t.established_seconds << " s ago)"
          << ", IKE_SA #" << t.ike_id << (t.initiator ? " (initiator)" : " (responder)") << "\n";
    if (!t.local_host.empty())
        o << "    " << t.local_host << ":" << t.local_port << " -> " << t.remote_host << ":" << t.remote_port
          << (t.nat_local ? ", this end behind a NAT" : ", no NAT on this side") << (t.udp_encap ? ", ESP in UDP" : "")
          << "\n";
    if (t.child_state != "DOWN")
        o << "    SPIs in " << t.spi_in << " out " << t.spi_out << "; in " << t.bytes_in << " bytes / " << t.packets_in
          << " packets, out " << t.bytes_out << " bytes / " << t.packets_out << " packets\n";
    if (t.ike_rekey_in >= 0 || t.child_rekey_in >= 0)
        o << "    next rekey: IKE " << (t.ike_rekey_in >= 0 ? "in " + std::to_string(t.ike_rekey_in) + " s" : "none")
          << ", CHILD " << (t.child_rekey_in >= 0 ? "in " + std::to_string(t.child_rekey_in) + " s" : "none") << "\n";
    if (!t.last_failure.empty())
        o << "    last failure " << clock_time(t.last_failure_at) << ": " << t.last_failure << " (charon: "
          << t.last_failure_detail << ")\n";
    if (t.next_attempt_at != 0) {
        int64_t in = std::max<int64_t>(0, t.next_attempt_at - int64_t(std::time(nullptr)));
        o << "    next attempt " << clock_time(t.next_attempt_at) << " (in " << in << " s), by avpnd; "
          << t.retry_attempts << " attempt" << (t.retry_attempts == 1 ? "" : "s") << " so far\n";
    }
    return o.str();
}

std::string daemon_text(const wg::DaemonRecord& d) {
    std::ostringstream o;
    o << ", wireguard-go pid " << d.pid;
    if (d.restarts > 0)
        o << ", restarted " << d.restarts << " time" << (d.restarts == 1 ? "" : "s") << ", last exit " << d.last_exit
          << " at " << clock_time(d.last_exit_at);
    return o.str();
}

void wireguard_json(JsonWriter& w, const std::vector<WgGroupStatus>& groups) {
    w.key("wireguard").begin_array();
    for (const auto& g : groups) {
        w.begin_object().field("interface", g.ifname).field("backend", g.backend);
        w.key("daemon");
        if (g.daemon)
            w.begin_object().field("pid", int64_t(g.daemon->pid)).field("restarts", int64_t(g.daemon->restarts))
                .field("last_exit", g.daemon->last_exit).field("last_exit_at", g.daemon->last_exit_at).end_object();
        else
            w.null();
        w.field("public_key", g.status.device.public_key).key("peers").begin_array();
        for (const auto& p : g.status.peers) {
            w.begin_object().field("public_key", p.public_key).field("last_handshake", p.last_handshake_sec);
            w.field("rx_bytes", p.rx_bytes).field("tx_bytes", p.tx_bytes).end_object();
        }
        w.end_array().end_object();
    }
    w.end_array();
}

// The devices; their peers are in the peers section by name, so only a
// peer the plan does not name (someone added it by hand, or the config
// changed since) is listed here by key.
std::string wireguard_text(const std::vector<WgGroupStatus>& groups, const std::vector<runtime::PeerRow>& named,
                           int64_t now) {
    std::set<std::pair<std::string, std::string>> known;
    for (const runtime::PeerRow& r : named) known.emplace(r.interface, r.public_key);
    std::ostringstream o;
    for (const auto& g : groups) {
        o << "wireguard " << g.ifname << " (" << g.backend << (g.daemon ? daemon_text(*g.daemon) : "") << "), "
          << g.status.peers.size() << " peer"
          << (g.status.peers.size() == 1 ? "" : "s") << "\n";
        for (const auto& p : g.status.peers) {
            if (known.count({g.ifname, p.public_key})) continue;
            o << "  not in the plan: " << p.public_key << "\n    ";
            if (p.last_handshake_sec == 0) o << "no handshake yet";
            else o << "last handshake " << (now - p.last_handshake_sec) << " s ago";
            o << ", rx " << p.rx_bytes << " bytes, tx " << p.tx_bytes << " bytes\n";
        }
    }
    return o.str();
}

void firewall_json(JsonWriter& w, const runtime::FirewallStatus& f) {
    w.key("firewall").begin_object().field("table", "inet avpn").field("present", f.present).key("error");
    if (f.error)
        w.begin_object().field("what", f.error->what).field("where", f.error->where).field("why", f.error->why).end_object();
    else
        w.null();
    w.key("counters").begin_array();
    for (const auto& [name, v] : f.counters)
        w.begin_object().field("name", name).field("packets", v.packets).field("bytes", v.bytes).end_object();
    w.end_array().end_object();
}

std::string firewall_text(const runtime::FirewallStatus& f) {
    std::ostringstream o;
    if (f.error) return "firewall: " + f.error->str() + "\n";
    if (!f.present) return "firewall: no table inet avpn\n";
    o << "firewall (table inet avpn), packets and bytes per rule:\n";
    for (const auto& [name, v] : f.counters)
        o << "  " << name << ": " << v.packets << " packets, " << v.bytes << " bytes\n";
    return o.str();
}

// "avpnd", not "daemon": wireguard[].daemon is the wireguard-go serving a link.
void avpnd_json(JsonWriter& w, const DaemonFacts* d) {
    w.key("avpnd");
    if (!d) {
        w.null();
        return;
    }
    w.begin_object().field("pid", d->pid).field("config", d->config).field("idle", d->idle);
    w.key("last_converge");
    if (const auto& c = d->last_converge)
        w.begin_object().field("at", c->at).field("ok", c->ok).field("line", c->line).end_object();
    else
        w.null();
    w.key("confirm");
    if (const auto& c = d->confirm)
        w.begin_object().field("deadline", c->deadline).field("config", c->config).field("previous", c->previous)
            .end_object();
    else
        w.null();
    w.key("last_rollback");
    if (const auto& r = d->last_rollback)
        w.begin_object().field("at", r->at).field("config", r->config).field("previous", r->previous)
            .field("ok", r->ok).field("line", r->line).end_object();
    else
        w.null();
    w.key("xfrm").begin_array();
    for (const DaemonFacts::XfrmPeer& x : d->xfrm) {
        w.begin_object().field("group", x.group).field("peer", x.peer).field("up", x.up).field("epoch", uint64_t(x.epoch));
        w.key("handshake_age_s");
        x.handshake_age ? (void)w.value(*x.handshake_age) : (void)w.null();
        w.key("next_rekey_in_s");
        x.next_rekey_in ? (void)w.value(*x.next_rekey_in) : (void)w.null();
        w.field("initiations_unanswered", uint64_t(x.initiations_unanswered)).field("problem", x.problem);
        w.key("sa");
        if (const auto& c = x.sa)
            w.begin_object().field("in_bytes", c->in_bytes).field("in_packets", c->in_packets)
                .field("out_bytes", c->out_bytes).field("out_packets", c->out_packets).end_object();
        else
            w.null();
        w.end_object();
    }
    w.end_array();
    w.field("xfrm_rejected", uint64_t(d->xfrm_rejected)).field("xfrm_last_rejected", d->xfrm_last_rejected);
    uplinks_json(w, d->uplinks);
    registries_json(w, *d);
    events_json(w, d->events);
    w.end_object();
}

std::string daemon_text(const DaemonFacts& d, int64_t now) {
    std::ostringstream o;
    o << "avpnd: pid " << d.pid << ", config " << d.config
      << (d.idle ? "; nothing applied since `avpnctl down` (apply or reload brings it back)" : "") << "\n";
    if (const auto& c = d.last_converge)
        o << "  last converge " << clock_time(c->at) << " (" << (now - c->at) << " s ago): " << (c->ok ? "ok" : "FAILED")
          << ":\n" << wrap_words("    ", c->line);
    if (const auto& c = d.confirm)
        o << "  confirm pending: " << c->config << " is rolled back to "
          << (c->previous.empty() ? "nothing applied" : c->previous) << " at " << clock_time(c->deadline) << " (in "
          << std::max<int64_t>(0, c->deadline - now) << " s) unless `avpnctl confirm`\n";
    if (const auto& r = d.last_rollback)
        o << "  last rollback " << clock_time(r->at) << ": " << r->config << " was not confirmed; back to "
          << (r->previous.empty() ? "nothing applied" : r->previous) << ": " << (r->ok ? "ok" : "FAILED") << ": "
          << r->line << "\n";
    if (!d.xfrm.empty()) o << "xfrm key exchange:\n";
    for (const DaemonFacts::XfrmPeer& x : d.xfrm) {
        o << "  " << x.group << "/" << x.peer << ": " << (x.up ? "up" : "DOWN") << ", epoch " << x.epoch;
        if (x.handshake_age) o << ", handshake " << *x.handshake_age << " s ago";
        else o << ", no handshake yet";
        if (x.up && x.next_rekey_in) o << ", next rekey in " << std::max<int64_t>(0, *x.next_rekey_in) << " s";
        if (!x.up && x.initiations_unanswered) o << ", " << x.initiations_unanswered << " initiations unanswered";
        if (!x.problem.empty()) o << " (" << x.problem << ")";
        if (const auto& c = x.sa)
            o << "; SAs in " << c->in_bytes << " bytes " << c->in_packets << " packets, out " << c->out_bytes
              << " bytes " << c->out_packets << " packets";
        o << "\n";
    }
    if (d.xfrm_rejected)
        o << "  " << d.xfrm_rejected << " handshake messages rejected, the last: " << d.xfrm_last_rejected << "\n";
    o << uplinks_text(d.uplinks) << registries_text(d, now) << events_text(d.events);
    return o.str();
}

}  // namespace

std::string clock_time(int64_t unix_time) {
    char buf[32];
    std::time_t t = std::time_t(unix_time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

Printed status_output(const runtime::SiteStatus& s, const DaemonFacts* daemon, bool json) {
    Printed p;
    const int64_t now = int64_t(std::time(nullptr));
    if (json) {
        JsonWriter w;
        w.begin_object().field("schema", "avpn.status/1").field("site", s.last.site).field("state_dir", s.state_dir);
        w.key("ipsec");
        if (!s.has_ipsec) {
            w.null();
        } else {
            w.begin_object().field("socket", s.vici_socket).key("error");
            if (s.ipsec_error)
                w.begin_object().field("what", s.ipsec_error->what).field("where", s.ipsec_error->where)
                    .field("why", s.ipsec_error->why).end_object();
            else
                w.null();
            w.key("tunnels").begin_array();
            for (const auto& t : s.tunnels) vici::to_json(w, t);
            w.end_array().end_object();
        }
        wireguard_json(w, s.wireguard);
        firewall_json(w, s.firewall);
        peers_json(w, s.peers, s.peers_error);
        avpnd_json(w, daemon);
        w.end_object();
        p.out = w.str();
    } else {
        std::ostringstream o;
        o << "site " << (s.last.site.empty() ? "(nothing applied)" : s.last.site) << "\n";
        if (!s.last.site.empty()) o << peers_text(s.peers, s.peers_error, now);
        if (!s.has_ipsec) o << "ipsec: no tunnels\n";
        else if (s.ipsec_error) o << "ipsec: " << s.ipsec_error->str() << "\n";
        else {
            o << "ipsec (charon at " << s.vici_socket << "):\n";
            for (const auto& t : s.tunnels) o << tunnel_text(t);
        }
        o << wireguard_text(s.wireguard, s.peers, now);
        o << firewall_text(s.firewall);
        if (daemon) o << daemon_text(*daemon, now);
        p.out = o.str();
    }
    p.exit = s.ipsec_error ? kFailed : kOk;
    return p;
}

}  // namespace avpn::report
