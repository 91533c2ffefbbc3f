#include "plugins/vici/status.hpp"

#include <charconv>

#include "plugins/vici/connection.hpp"

namespace avpn::vici {

namespace {

template <class T>
T number(const Section& s, std::string_view key, T fallback) {
    const std::string* v = s.value(key);
    if (!v) return fallback;
    T out{};
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    return ec == std::errc() && p == v->data() + v->size() ? out : fallback;
}

bool yes(const Section& s, std::string_view key) { return s.value_or(key) == "yes"; }

std::vector<std::string> items(const Section& s, std::string_view key) {
    const std::vector<std::string>* l = s.list(key);
    return l ? *l : std::vector<std::string>{};
}

std::string proposal(const Section& s) {
    std::string out;
    for (const char* k : {"encr-alg", "integ-alg", "prf-alg", "dh-group"}) {
        std::string v = s.value_or(k);
        if (v.empty()) continue;
        if (std::string_view(k) == "encr-alg" && s.has("encr-keysize")) v += "-" + s.value_or("encr-keysize");
        out += (out.empty() ? "" : "/") + v;
    }
    return out;
}

// Ranks SAs: an established/installed one beats others, then the newest.
std::pair<int, uint64_t> rank(const Section& sa, std::string_view good_state) {
    return {sa.value_or("state") == good_state, number<uint64_t>(sa, "uniqueid", 0)};
}

template <class Range, class Get>
const Section* best(const Range& sas, Get get, std::string_view good_state) {
    const Section* pick = nullptr;
    for (const auto& item : sas) {
        const Section* sa = get(item);
        if (sa && (!pick || rank(*sa, good_state) > rank(*pick, good_state))) pick = sa;
    }
    return pick;
}

const Section* child_of(const Entry& e) { return e.kind == Entry::Kind::Section ? &e.section : nullptr; }

void fill_child(TunnelStatus& t, const Section& ch) {
    t.child_state = ch.value_or("state", "DOWN");
    t.child_id = number<uint64_t>(ch, "uniqueid", 0);
    t.udp_encap = yes(ch, "encap");
    t.spi_in = ch.value_or("spi-in");
    t.spi_out = ch.value_or("spi-out");
    t.esp_proposal = proposal(ch);
    t.bytes_in = number<uint64_t>(ch, "bytes-in", 0);
    t.bytes_out = number<uint64_t>(ch, "bytes-out", 0);
    t.packets_in = number<uint64_t>(ch, "packets-in", 0);
    t.packets_out = number<uint64_t>(ch, "packets-out", 0);
    t.child_rekey_in = number<int64_t>(ch, "rekey-time", -1);
    t.local_ts = items(ch, "local-ts");
    t.remote_ts = items(ch, "remote-ts");
}

struct Rule {
    const char* needle;
    const char* reason;
};

// charon 5.9 log texts that say why an SA did not come up, in words.
constexpr Rule kRules[] = {
    {"AUTHENTICATION_FAILED", "authentication failed"},
    {"authentication of", "authentication failed"},  // "... failed" (checked below)
    {"MAC mismatched", "authentication failed"},
    {"no shared key found", "authentication failed (no PSK for these identities)"},
    {"NO_PROPOSAL_CHOSEN", "no proposal chosen"},
    {"no acceptable proposal found", "no proposal chosen"},
    {"no matching proposal found", "no proposal chosen"},
    {"TS_UNACCEPTABLE", "traffic selectors unacceptable"},
    {"traffic selectors", "traffic selectors unacceptable"},  // "... unacceptable"
    {"giving up after", "peer not responding"},
    {"peer not responding", "peer not responding"},
    {"no IKE config found", "no matching IKE configuration (peer's address)"},
    {"no matching peer config found", "no matching peer configuration (identities)"},
    {"peer config", "no matching peer configuration (identities)"},  // "... not found"
    {"INVALID_SYNTAX", "peer rejected a message (invalid syntax)"},
};

}  // namespace

std::string classify_failure(std::string_view msg) {
    for (const Rule& r : kRules) {
        if (msg.find(r.needle) == std::string_view::npos) continue;
        const std::string_view n = r.needle;
        if (n == "authentication of" && msg.find("failed") == std::string_view::npos) continue;
        if (n == "traffic selectors" && msg.find("unacceptable") == std::string_view::npos) continue;
        if (n == "peer config" && msg.find("not found") == std::string_view::npos) continue;
        return r.reason;
    }
    return {};
}

void FailureTracker::observe(const Event& e, int64_t now) {
    if (e.name != "log" && e.name != "control-log") return;
    const std::string conn = e.message.value_or("ikesa-name");
    if (!conn.starts_with(kConnPrefix)) return;
    const std::string msg = e.message.value_or("msg");
    std::string reason = classify_failure(msg);
    if (reason.empty()) return;
    failures_[conn] = Failure{std::move(reason), msg, now};
}

void FailureTracker::remember(const std::string& conn, Failure f) {
    auto it = failures_.find(conn);
    if (it == failures_.end() || it->second.at <= f.at) failures_[conn] = std::move(f);
}

void FailureTracker::forget(std::string_view conn) {
    if (auto it = failures_.find(conn); it != failures_.end()) failures_.erase(it);
}

const Failure* FailureTracker::last(std::string_view conn) const {
    auto it = failures_.find(conn);
    return it == failures_.end() ? nullptr : &it->second;
}

Status subscribe_status_events(Client& client) {
    for (const char* ev : {"log", "ike-updown", "child-updown"})
        if (Status st = client.subscribe(ev); !st) return st;
    return {};
}

TunnelStatus parse_ike_sa(std::string_view name, const Section& ike, int64_t now) {
    TunnelStatus t;
    t.name = std::string(name);
    t.ike_state = ike.value_or("state", "DOWN");
    t.initiator = yes(ike, "initiator");
    t.ike_id = number<uint64_t>(ike, "uniqueid", 0);
    t.local_host = ike.value_or("local-host");
    t.remote_host = ike.value_or("remote-host");
    t.local_port = number<uint16_t>(ike, "local-port", 0);
    t.remote_port = number<uint16_t>(ike, "remote-port", 0);
    t.local_id = ike.value_or("local-id");
    t.remote_id = ike.value_or("remote-id");
    t.nat_local = yes(ike, "nat-local");
    t.nat_remote = yes(ike, "nat-remote");
    t.ike_proposal = proposal(ike);
    t.ike_rekey_in = number<int64_t>(ike, "rekey-time", -1);
    if (t.ike_state == "ESTABLISHED") {
        t.established_seconds = number<int64_t>(ike, "established", 0);
        t.established_since = now - t.established_seconds;
    }
    if (const Section* children = ike.section("child-sas")) {
        if (const Section* ch = best(children->entries(), child_of, "INSTALLED")) fill_child(t, *ch);
    }
    t.up = t.ike_state == "ESTABLISHED" && t.child_state == "INSTALLED";
    return t;
}

Result<std::vector<TunnelStatus>> collect_status(Client& client, const std::vector<std::string>& names,
                                                 const FailureTracker* failures, int64_t now) {
    std::map<std::string, std::vector<Section>> sas;  // conn -> its IKE_SAs
    auto r = client.call_streamed("list-sas", {}, "list-sa", [&](const Section& ev) {
        for (const Entry& e : ev.entries())
            if (e.kind == Entry::Kind::Section && e.name.starts_with(kConnPrefix)) sas[e.name].push_back(e.section);
    });
    if (!r) return r.error();
    std::vector<std::string> wanted = names;
    if (wanted.empty())
        for (const auto& [name, _] : sas) wanted.push_back(name);
    std::vector<TunnelStatus> out;
    for (const std::string& name : wanted) {
        TunnelStatus t;
        t.name = name;
        if (auto it = sas.find(name); it != sas.end()) {
            auto self = [](const Section& s) { return &s; };
            if (const Section* ike = best(it->second, self, "ESTABLISHED")) t = parse_ike_sa(name, *ike, now);
        }
        if (const Failure* f = failures ? failures->last(name) : nullptr) {
            t.last_failure = f->reason;
            t.last_failure_detail = f->detail;
            t.last_failure_at = f->at;
        }
        out.push_back(std::move(t));
    }
    return out;
}

void to_json(JsonWriter& w, const TunnelStatus& s) {
    w.begin_object();
    w.field("name", s.name).field("loaded", s.loaded).field("up", s.up).field("ike_state", s.ike_state).field("child_state", s.child_state);
    w.field("initiator", s.initiator).field("ike_id", s.ike_id);
    w.field("established_seconds", s.established_seconds).field("established_since", s.established_since);
    w.field("local_host", s.local_host).field("local_port", unsigned(s.local_port));
    w.field("remote_host", s.remote_host).field("remote_port", unsigned(s.remote_port));
    w.field("local_id", s.local_id).field("remote_id", s.remote_id);
    w.field("nat_local", s.nat_local).field("nat_remote", s.nat_remote).field("udp_encap", s.udp_encap);
    w.field("ike_proposal", s.ike_proposal).field("esp_proposal", s.esp_proposal);
    w.field("child_id", s.child_id).field("spi_in", s.spi_in).field("spi_out", s.spi_out);
    w.field("bytes_in", s.bytes_in).field("bytes_out", s.bytes_out);
    w.field("packets_in", s.packets_in).field("packets_out", s.packets_out);
    w.field("ike_rekey_in", s.ike_rekey_in).field("child_rekey_in", s.child_rekey_in);
    w.field_strings("local_ts", s.local_ts).field_strings("remote_ts", s.remote_ts);
    w.field("last_failure", s.last_failure).field("last_failure_detail", s.last_failure_detail);
    w.field("last_failure_at", s.last_failure_at);
    w.field("retry_attempts", int64_t(s.retry_attempts)).field("next_attempt_at", s.next_attempt_at);
    w.end_object();
}

}  // namespace avpn::vici
