// Test driver for the vici interop suite: configures a charon ONLY through
// avpn's reconciler, from a list of vici::Connection written as TOML, and
// reports status as JSON (jq-friendly). Stands in for `avpnctl apply` until
// that exists.
//
//   vici_driver --socket S [--state F] apply CONNS.toml [--settle SECONDS]
//   vici_driver --socket S status CONNS.toml [--settle SECONDS]
//   vici_driver --socket S wait-up CONNS.toml SECONDS
//   vici_driver --socket S load-foreign NAME
//
// apply/status subscribe to charon's events first, then (apply) reconcile,
// then wait up to --settle seconds until every initiator is up or has a
// failure; they print {"report": ..., "status": [...]}. wait-up exits 0 once
// every connection is up, 1 on timeout. Exit 2: usage or charon unreachable.
#include <toml++/toml.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"
#include "plugins/vici/load_conn.hpp"
#include "plugins/vici/reconcile.hpp"
#include "plugins/vici/status.hpp"

using namespace avpn;
using namespace avpn::vici;

namespace {

std::vector<std::string> strings(const toml::node_view<const toml::node>& n) {
    std::vector<std::string> out;
    if (const toml::array* a = n.as_array())
        for (const toml::node& e : *a)
            if (auto s = e.value<std::string>()) out.push_back(*s);
    return out;
}

uint32_t u32(const toml::node_view<const toml::node>& n, uint32_t fallback) {
    return n.value<int64_t>() ? uint32_t(*n.value<int64_t>()) : fallback;
}

Connection parse_conn(const toml::table& t) {
    Connection c;
    toml::node_view<const toml::node> v(t);
    c.name = v["name"].value_or(std::string());
    c.local_addrs = strings(v["local_addrs"]);
    c.remote_addrs = strings(v["remote_addrs"]);
    c.local_id = v["local_id"].value_or(std::string());
    c.remote_id = v["remote_id"].value_or(std::string());
    c.psk_file = v["psk_file"].value_or(std::string());
    c.ike_proposals = strings(v["ike_proposals"]);
    c.version = u32(v["version"], c.version);
    c.rekey_time = u32(v["rekey_time"], c.rekey_time);
    c.over_time = u32(v["over_time"], c.over_time);
    c.reauth_time = u32(v["reauth_time"], c.reauth_time);
    c.dpd_delay = u32(v["dpd_delay"], c.dpd_delay);
    c.dpd_timeout = u32(v["dpd_timeout"], c.dpd_timeout);
    c.if_id_in = u32(v["if_id_in"], 0);
    c.if_id_out = u32(v["if_id_out"], 0);
    auto ch = v["child"];
    c.child.name = ch["name"].value_or(c.name + "-child");
    c.child.local_ts = strings(ch["local_ts"]);
    c.child.remote_ts = strings(ch["remote_ts"]);
    c.child.esp_proposals = strings(ch["esp_proposals"]);
    c.child.start_action = ch["start_action"].value_or(std::string("none"));
    c.child.dpd_action = ch["dpd_action"].value_or(std::string("clear"));
    c.child.close_action = ch["close_action"].value_or(std::string("none"));
    c.child.rekey_time = u32(ch["rekey_time"], c.child.rekey_time);
    c.child.life_time = u32(ch["life_time"], c.child.life_time);
    return c;
}

Result<std::vector<Connection>> load_conns(const std::string& path) {
    try {
        toml::table doc = toml::parse_file(path);
        std::vector<Connection> out;
        if (const toml::array* conns = doc["conn"].as_array())
            for (const toml::node& n : *conns)
                if (const toml::table* t = n.as_table()) out.push_back(parse_conn(*t));
        return out;
    } catch (const toml::parse_error& e) {
        return Error{"reading connections", path, std::string(e.description())};
    }
}

int64_t now() { return int64_t(std::time(nullptr)); }

void report_json(JsonWriter& w, const ReconcileReport& r) {
    w.begin_object();
    w.field_strings("loaded", r.loaded).field_strings("unchanged", r.unchanged);
    w.field_strings("unloaded", r.unloaded).field_strings("initiated", r.initiated);
    w.key("errors").begin_array();
    for (const ConnError& e : r.errors) w.begin_object().field("name", e.name).field("error", e.error.str()).end_object();
    w.end_array().end_object();
}

std::vector<std::string> names_of(const std::vector<Connection>& conns) {
    std::vector<std::string> out;
    for (const Connection& c : conns) out.push_back(c.name);
    return out;
}

// Feeds events to the tracker until every initiator is up or failed, or time runs out.
Result<std::vector<TunnelStatus>> settle(Client& client, FailureTracker& failures,
                                         const std::vector<Connection>& conns, int seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (;;) {
        for (const Event& e : client.take_events()) failures.observe(e, now());
        auto st = collect_status(client, names_of(conns), &failures, now());
        if (!st) return st;
        bool settled = true;
        for (size_t i = 0; i < conns.size(); ++i)
            if (is_initiator(conns[i]) && !(*st)[i].up && (*st)[i].last_failure.empty()) settled = false;
        if (settled || std::chrono::steady_clock::now() >= until) return st;
        if (Status w = client.wait_events(std::chrono::milliseconds(250)); !w) return w.error();
    }
}

int usage() {
    std::fprintf(stderr, "usage: vici_driver --socket S [--state F] (apply|status|wait-up|load-foreign) ...\n");
    return 2;
}

int fail(const Error& e) {
    std::fprintf(stderr, "vici_driver: %s\n", e.str().c_str());
    return 2;
}

int run_apply_or_status(Client& client, bool apply, const std::string& conns_path, const std::string& state,
                        int settle_seconds) {
    auto conns = load_conns(conns_path);
    if (!conns) return fail(conns.error());
    if (Status st = subscribe_status_events(client); !st) return fail(st.error());
    JsonWriter w;
    w.begin_object();
    ReconcileReport report;
    if (apply) {
        ReconcileOptions opt;
        opt.state_path = state;
        auto r = reconcile(client, *conns, opt);
        if (!r) return fail(r.error());
        report = *r;
        w.key("report");
        report_json(w, report);
    }
    FailureTracker failures;
    auto st = settle(client, failures, *conns, settle_seconds);
    if (!st) return fail(st.error());
    w.key("status").begin_array();
    for (const TunnelStatus& t : *st) to_json(w, t);
    w.end_array().end_object();
    std::printf("%s\n", w.str().c_str());
    return report.ok() ? 0 : 1;
}

int run_wait_up(Client& client, const std::string& conns_path, int seconds) {
    auto conns = load_conns(conns_path);
    if (!conns) return fail(conns.error());
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (;;) {
        auto st = collect_status(client, names_of(*conns), nullptr, now());
        bool all_up = st.ok();
        if (st)
            for (const TunnelStatus& t : *st) all_up = all_up && t.up;
        if (all_up) return 0;
        if (std::chrono::steady_clock::now() >= until) {
            std::fprintf(stderr, "vici_driver: not all up after %d s%s\n", seconds,
                         st ? "" : (": " + st.error().str()).c_str());
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

// A connection somebody else loaded (not avpn's): the reconciler must leave it.
int run_load_foreign(Client& client, const std::string& name) {
    Section msg;
    Section& c = msg.add_section(name);
    c.add_list("remote_addrs", {"192.0.2.250"});
    c.add_section("local").add_value("auth", "psk");
    c.add_section("remote").add_value("auth", "psk");
    c.add_section("children").add_section(name + "-child").add_list("remote_ts", {"10.250.0.0/24"});
    auto r = client.call("load-conn", msg);
    if (!r) return fail(r.error());
    if (Status st = check_success("load-conn", *r); !st) return fail(st.error());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    ClientOptions copt;
    std::string state;
    int settle_seconds = 0;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        const bool has_value = i + 1 < args.size();
        if (args[i] == "--socket" && has_value) copt.socket_path = args[++i];
        else if (args[i] == "--state" && has_value) state = args[++i];
        else if (args[i] == "--settle" && has_value) settle_seconds = std::atoi(args[++i].c_str());
        else rest.push_back(args[i]);
    }
    if (rest.size() < 2) return usage();
    Client client(copt);
    const std::string& cmd = rest[0];
    if (cmd == "apply" || cmd == "status") return run_apply_or_status(client, cmd == "apply", rest[1], state, settle_seconds);
    if (cmd == "wait-up" && rest.size() == 3) return run_wait_up(client, rest[1], std::atoi(rest[2].c_str()));
    if (cmd == "load-foreign") return run_load_foreign(client, rest[1]);
    return usage();
}
