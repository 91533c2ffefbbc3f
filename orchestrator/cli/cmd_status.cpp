// avpnctl status [--json] [--state-dir DIR] [--vici-socket PATH] [--listen S]:
// the state of the site's interop tunnels as charon reports them (list-sas),
// with the last failure in words. Failures are events of one moment: apply
// records those it sees while settling, and --listen S watches charon's log
// for S seconds now; both go to the state directory (docs/vici.md).
// Read-only towards the kernel and charon; takes no lock.
#include <ctime>
#include <iostream>
#include <sstream>

#include "common/json.hpp"
#include "orchestrator/cli/command.hpp"
#include "orchestrator/cli/ipsec_runtime.hpp"
#include "orchestrator/cli/render_apply.hpp"
#include "orchestrator/cli/site_runtime.hpp"

namespace avpn::cli {

namespace {

struct StatusArgs {
    std::string state_dir = kDefaultStateDir;
    std::string vici_socket = std::string(vici::kDefaultSocket);
    int listen = 0;
    bool json = false;
};

std::string clock_time(int64_t unix_time) {
    char buf[32];
    std::time_t t = std::time_t(unix_time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

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
    return o.str();
}

int run_status(const StatusArgs& a) {
    StateDir state(a.state_dir);
    auto last = state.load();
    if (!last) return report_failure("status", last.error());

    std::optional<Error> ipsec_error;
    std::vector<vici::TunnelStatus> tunnels;
    const bool has_ipsec = !last->ipsec_connections.empty();
    if (has_ipsec) {
        auto charon = connect_charon(a.vici_socket);
        if (!charon) {
            ipsec_error = charon.error();
        } else {
            auto st = ipsec_status(**charon, last->ipsec_connections, a.state_dir, a.listen);
            if (st) tunnels = std::move(*st);
            else ipsec_error = st.error();
        }
    }

    if (a.json) {
        JsonWriter w;
        w.begin_object().field("schema", "avpn.status/1").field("site", last->site).field("state_dir", a.state_dir);
        w.key("ipsec");
        if (!has_ipsec) {
            w.null();
        } else {
            w.begin_object().field("socket", a.vici_socket).key("error");
            if (ipsec_error)
                w.begin_object().field("what", ipsec_error->what).field("where", ipsec_error->where)
                    .field("why", ipsec_error->why).end_object();
            else
                w.null();
            w.key("tunnels").begin_array();
            for (const auto& t : tunnels) vici::to_json(w, t);
            w.end_array().end_object();
        }
        w.end_object();
        std::cout << w.str();
    } else {
        std::cout << "site " << (last->site.empty() ? "(nothing applied)" : last->site) << "\n";
        if (!has_ipsec) std::cout << "ipsec: no tunnels\n";
        else if (ipsec_error) std::cout << "ipsec: " << ipsec_error->str() << "\n";
        else {
            std::cout << "ipsec (charon at " << a.vici_socket << "):\n";
            for (const auto& t : tunnels) std::cout << tunnel_text(t);
        }
    }
    return ipsec_error ? int(kFailed) : int(kOk);
}

}  // namespace

Handler setup_status(CLI::App& sub) {
    auto a = std::make_shared<StatusArgs>();
    sub.add_flag("--json", a->json, "machine-readable output (schema avpn.status/1, docs/cli.md)");
    sub.add_option("--state-dir", a->state_dir, "state directory")->capture_default_str();
    sub.add_option("--vici-socket", a->vici_socket, "charon's vici socket")->capture_default_str();
    sub.add_option("--listen", a->listen, "watch charon's log this many seconds for failures first")
        ->capture_default_str()
        ->check(CLI::Range(0, 600));
    return [a] { return run_status(*a); };
}

}  // namespace avpn::cli
