#include "orchestrator/runtime/ipsec.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "plugins/vici/load_conn.hpp"

namespace avpn::runtime {

namespace {

int64_t unix_now() { return int64_t(std::time(nullptr)); }

std::vector<std::string> names_of(const std::vector<vici::Connection>& conns) {
    std::vector<std::string> out;
    for (const auto& c : conns) out.push_back(c.name);
    return out;
}

// Feeds the tracker with charon's log events while it is installed.
class Listening {
public:
    Listening(vici::Client& c, vici::FailureTracker& t) : client_(c) {
        ok_ = vici::subscribe_status_events(c).ok();
        c.set_event_sink([&t](const vici::Event& e) { t.observe(e, unix_now()); });
    }
    // Unsubscribing before the socket closes spares charon from trying to
    // deliver log events to a connection that is gone ("vici connection N
    // unknown" for every log line until it notices).
    ~Listening() {
        client_.set_event_sink(nullptr);
        for (const char* ev : {"log", "ike-updown", "child-updown"}) (void)client_.unsubscribe(ev);
    }
    bool ok() const { return ok_; }

private:
    vici::Client& client_;
    bool ok_ = false;
};

// Waits until every named initiator is up or failed after `since`.
void settle(vici::Client& charon, const std::vector<std::string>& names, const vici::FailureTracker& tracker,
            int64_t since, int seconds) {
    if (names.empty() || seconds <= 0) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        auto st = vici::collect_status(charon, names, &tracker, unix_now());
        if (!st) return;
        bool all_known = true;
        for (const auto& t : *st)
            if (!t.up && !(t.last_failure_at >= since && !t.last_failure.empty())) all_known = false;
        if (all_known) return;
        (void)charon.wait_events(std::chrono::milliseconds(200));
    }
}

}  // namespace

std::string fingerprints_path(const std::string& state_dir) { return state_dir + "/" + kFingerprintsFile; }
std::string failures_path(const std::string& state_dir) { return state_dir + "/" + kFailuresFile; }
std::string retries_path(const std::string& state_dir) { return state_dir + "/" + kRetriesFile; }
std::string applied_conns_path(const std::string& state_dir) { return state_dir + "/" + kAppliedConnsFile; }

void undo_ipsec(vici::Client& charon, IpsecOutcome& out, const std::string& state_dir) {
    vici::Budget budget(charon, kCharonUndoBudget);
    vici::UndoReport u = out.journal.undo(charon);
    out.charon_undone = true;
    out.undone = std::move(u.undone);
    out.not_undone = std::move(u.not_undone);
    out.undo_errors.insert(out.undo_errors.end(), u.errors.begin(), u.errors.end());
    const std::string fps = fingerprints_path(state_dir);
    if (out.undo_errors.empty()) {
        if (Status s = vici::save_fingerprints(fps, out.fingerprints_before); !s) out.undo_errors.push_back(s.error());
    } else if (::unlink(fps.c_str()) != 0 && errno != ENOENT) {
        out.undo_errors.push_back(Error{"remove", fps, std::strerror(errno), errno});
    }
    if (Status a = vici::save_applied(applied_conns_path(state_dir), out.applied_before); !a)
        out.undo_errors.push_back(a.error());
}

Result<std::unique_ptr<vici::Client>> connect_charon(const std::string& socket) {
    vici::ClientOptions o;
    o.socket_path = socket;
    auto c = std::make_unique<vici::Client>(o);
    if (Status s = c->connect(); !s)
        return Error{"connect to charon", socket, s.error().why + " (is charon running? --vici-socket)", s.error().code};
    // connect() succeeds on a charon that accepts but never answers (hung,
    // or its vici threads stuck): one cheap round trip finds it now, before
    // the kernel is touched, instead of a 10 s timeout per call later.
    vici::Budget probe(*c, kCharonProbe);
    auto v = c->call("version");
    if (!v && vici::is_timeout(v.error()))
        return Error{"connect to charon", socket,
                     "charon did not answer version within " + std::to_string(kCharonProbe.count()) +
                         " s: it accepts connections but does not serve them (hung? restart it)",
                     ETIMEDOUT};
    if (!v) return Error{"connect to charon", socket, v.error().str(), v.error().code};
    return c;
}

Status preflight_ipsec(const std::vector<vici::Connection>& desired) {
    for (const vici::Connection& c : desired) {
        auto msg = vici::load_conn_message(c);
        if (!msg) return Error{"ipsec connection " + c.name, msg.error().where, msg.error().str()};
        auto psk = vici::read_psk_file(c.psk_file);  // wiped when it goes out of scope
        if (!psk) return Error{"ipsec connection " + c.name, c.psk_file, psk.error().why, psk.error().code};
    }
    return {};
}

IpsecOutcome apply_ipsec(vici::Client& charon, const std::vector<vici::Connection>& desired,
                         const std::string& state_dir, int settle_seconds, bool dry_run) {
    IpsecOutcome out;
    out.asked = true;
    out.socket = charon.options().socket_path;
    vici::Budget budget(charon, kCharonApplyBudget + std::chrono::seconds(std::max(settle_seconds, 0)));
    vici::ReconcileOptions ro;
    ro.state_path = fingerprints_path(state_dir);
    ro.dry_run = dry_run;
    if (dry_run) {
        auto r = vici::reconcile(charon, desired, ro);
        if (!r) out.failure = r.error();
        else out.report = std::move(*r);
        return out;
    }

    vici::FailureTracker tracker = vici::load_failures(failures_path(state_dir));
    const int64_t started = unix_now();
    Listening listening(charon, tracker);
    if (!listening.ok()) out.warnings.push_back("could not subscribe to charon's log: failures will not be recorded");

    out.fingerprints_before = vici::load_fingerprints(ro.state_path);
    out.applied_before = vici::load_applied(applied_conns_path(state_dir));
    ro.journal = &out.journal;
    ro.previous = &out.applied_before;
    auto r = vici::reconcile(charon, desired, ro);
    if (r) out.report = std::move(*r);
    if (!r) {
        out.failure = r.error();  // charon stopped answering midway: undo what it did take
    } else if (!out.report.ok()) {
        const vici::ConnError& first = out.report.errors.front();
        out.failure = Error{"ipsec connection " + first.name, first.error.where, "charon: " + first.error.why};
    } else {
        vici::Applied now;
        for (const vici::Connection& c : desired) {
            auto a = vici::applied_conn(c);  // mapped before: cannot fail here
            if (a) now[c.name] = std::move(*a);
        }
        // Without this record the next apply could not undo its replaces.
        if (Status s = vici::save_applied(applied_conns_path(state_dir), now); !s) out.failure = s.error();
    }
    if (out.failure) {
        undo_ipsec(charon, out, state_dir);
        return out;
    }

    // A (re)loaded or initiated tunnel starts afresh: an old failure no longer describes it.
    std::vector<std::string> starting;
    for (const auto* list : {&out.report.loaded, &out.report.initiated})
        for (const std::string& n : *list) {
            if (const vici::Failure* f = tracker.last(n); f && f->at < started) tracker.forget(n);
            for (const auto& c : desired)
                if (c.name == n && vici::is_initiator(c)) starting.push_back(n);
        }
    settle(charon, starting, tracker, started, settle_seconds);
    auto st = vici::collect_status(charon, names_of(desired), &tracker, unix_now());
    if (st) out.tunnels = std::move(*st);
    else out.warnings.push_back("status after apply: " + st.error().str());
    // Keep only failures of connections that still exist.
    const std::vector<std::string> names = names_of(desired);
    const std::set<std::string> wanted(names.begin(), names.end());
    std::vector<std::string> stale;
    for (const auto& [n, f] : tracker.all())
        if (!wanted.contains(n)) stale.push_back(n);
    for (const auto& n : stale) tracker.forget(n);
    if (Status s = vici::save_failures(failures_path(state_dir), tracker); !s)
        out.warnings.push_back("recording failures: " + s.error().str());
    return out;
}

IpsecOutcome down_ipsec(vici::Client& charon, const std::vector<std::string>& names) {
    vici::Budget budget(charon, kCharonDownBudget);
    IpsecOutcome out;
    out.asked = true;
    out.socket = charon.options().socket_path;
    auto u = vici::unload_owned(charon, names);
    if (!u) {
        out.failure = u.error();
        return out;
    }
    out.report = std::move(*u);
    if (!out.report.ok()) {
        const vici::ConnError& first = out.report.errors.front();
        out.failure = Error{"ipsec connection " + first.name, first.error.where, "charon: " + first.error.why};
    }
    return out;
}

Result<std::vector<vici::TunnelStatus>> ipsec_status(vici::Client& charon, const std::vector<std::string>& names,
                                                     const std::string& state_dir, int listen_seconds) {
    vici::FailureTracker tracker = vici::load_failures(failures_path(state_dir));
    if (listen_seconds > 0) {
        {
            Listening listening(charon, tracker);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(listen_seconds);
            while (std::chrono::steady_clock::now() < deadline)
                if (Status s = charon.wait_events(std::chrono::milliseconds(200)); !s) break;
        }
        // status may run without the lock next to an apply; an atomic rename
        // keeps the file whole, and the newest failure wins on the next merge.
        (void)vici::save_failures(failures_path(state_dir), tracker);
    }
    auto observed = vici::observe(charon, false);
    if (!observed) return observed.error();
    auto st = vici::collect_status(charon, names, &tracker, unix_now());
    if (!st) return st;
    const auto retries = vici::load_retries(retries_path(state_dir));
    for (auto& t : *st) {
        t.loaded = observed->conns.contains(t.name);
        auto r = retries.find(t.name);
        // Also while an attempt is under way (CONNECTING): the next one is
        // due should it fail.
        if (t.up || r == retries.end()) continue;
        t.retry_attempts = r->second.attempts;
        t.next_attempt_at = r->second.next_at;
    }
    return st;
}

Result<std::vector<std::string>> retry_ipsec(vici::Client& charon, const std::vector<vici::Connection>& desired,
                                             const std::string& state_dir, vici::RetrySchedule& schedule,
                                             int settle_seconds) {
    std::vector<std::string> initiators;
    for (const auto& c : desired)
        if (vici::is_initiator(c)) initiators.push_back(c.name);
    std::vector<std::string> due;
    if (!initiators.empty()) {
        auto st = vici::collect_status(charon, initiators, nullptr, unix_now());
        if (!st) return st.error();
        std::map<std::string, std::string> ike;
        for (const auto& t : *st) ike[t.name] = t.ike_state;
        due = schedule.due(ike, unix_now());
    } else {
        (void)schedule.due({}, unix_now());
    }
    if (!due.empty()) {
        vici::FailureTracker tracker = vici::load_failures(failures_path(state_dir));
        const int64_t started = unix_now();
        {
            Listening listening(charon, tracker);
            std::vector<std::string> initiated;
            for (const auto& c : desired)
                if (std::find(due.begin(), due.end(), c.name) != due.end() && vici::initiate(charon, c, -1).ok())
                    initiated.push_back(c.name);
            settle(charon, initiated, tracker, started, settle_seconds);
        }
        (void)vici::save_failures(failures_path(state_dir), tracker);
    }
    // Written when it changes only (it is fsynced).
    const std::string path = retries_path(state_dir);
    if (!due.empty() || vici::load_retries(path).size() != schedule.all().size())
        if (Status s = vici::save_retries(path, schedule.all()); !s) return s.error();
    return due;
}

}  // namespace avpn::runtime
