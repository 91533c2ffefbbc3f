#include "orchestrator/runtime/site.hpp"

#include "orchestrator/plan/firewall_json.hpp"

#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <sstream>

#include "netlink/nft_gen.hpp"
#include "orchestrator/config/load.hpp"
#include "orchestrator/runtime/ipsec.hpp"
#include "orchestrator/runtime/load.hpp"
#include "orchestrator/runtime/journal_recovery.hpp"
#include "orchestrator/runtime/site_apply.hpp"

namespace avpn::runtime {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string summary(const std::vector<Op>& ops) {
    OpCounts c = count(ops);
    size_t created = 0, updated = 0, removed = 0;
    for (size_t k = 0; k < kObjectKinds; ++k) {
        created += c.created[k];
        updated += c.updated[k];
        removed += c.removed[k];
    }
    std::ostringstream o;
    o << ops.size() << " ops (" << created << " created, " << updated << " updated, " << removed << " removed)";
    return o.str();
}

std::string timing(double ms) {
    std::ostringstream o;
    o.precision(1);
    o << std::fixed << ms << " ms";
    return o.str();
}

// Logs every diagnostic of a load; the intent when it has no errors.
std::optional<Intent> logged_intent(SnapshotLoad& l, const Log& log) {
    for (const Error& e : l.site.errors) log(format_diagnostic(e, Severity::error));
    for (const Error& e : l.site.warnings) log(format_diagnostic(e, Severity::warning));
    return std::move(l.site.intent);
}

}  // namespace

Result<std::unique_ptr<Site>> Site::open(const SiteOptions& o, Log log) {
    SnapshotLoad l = load_recording(o.config);
    std::optional<Intent> intent = logged_intent(l, log);
    if (!intent) return Error{"start", o.config, "the configuration has errors (see above)"};
    // A subreaper: daemons it starts come back to it after their double fork,
    // so their exit status is known. Nothing is written before the lock.
    auto wireguard_go = wg::Supervisor::open(
        {.record_path = wg::daemon_record_path(o.state_dir), .log = log, .reap_children = true});
    if (!wireguard_go) return wireguard_go.error();
    std::shared_ptr<wg::Supervisor> supervisor = std::move(*wireguard_go);
    auto keying = std::make_shared<XfrmKeying>();
    auto port = NetlinkPort::open({.wireguard_go = supervisor,
                                   .before_create_link = journal_links_in(o.state_dir),
                                   .session_key = [keying](uint64_t id, uint32_t bits, bool new_sa) { return keying->key(id, bits, new_sa); }});
    if (!port) return port.error();
    auto firewall = fw::NftTable::open();
    if (!firewall) return firewall.error();
    std::unique_ptr<Site> s(new Site(o, std::move(log), std::move(*port)));
    s->firewall_ = std::move(*firewall);
    s->wireguard_go_ = std::move(supervisor);
    s->keying_ = std::move(keying);
    if (Status st = s->state_.lock(); !st) return st.error();
    s->use(std::move(*intent));
    s->running_ = std::move(l.snapshot);
    return s;
}

Site::Site(const SiteOptions& o, Log log, std::unique_ptr<NetlinkPort> port)
    : options_(o), log_(std::move(log)), state_(o.state_dir), port_(std::move(port)), reconciler_(*port_),
      retry_(vici::RetryPolicy{o.retry_first, o.retry_max}), keying_hold_(std::chrono::milliseconds(o.keying_hold_ms)) {}

std::optional<Intent> Site::load_logged(SnapshotLoad& l) { return logged_intent(l, log_); }

bool Site::reload() {
    SnapshotLoad l = load_recording(options_.config);
    std::optional<Intent> intent = load_logged(l);
    if (!intent) return false;
    use(std::move(*intent));
    running_ = std::move(l.snapshot);
    idle_ = false;
    return true;
}

void Site::use(Intent intent) {
    intent_ = std::move(intent);
    scope_.uplinks.clear();
    for (const std::string& u : uplinks_of(*intent_)) scope_.uplinks.insert(u);
    follow_intent_uplinks();
}

// After every apply, whatever its outcome: a failed apply and its undo
// write through the same sockets (the XFRM one opens on first use), and
// their notifications are no more drift than a successful apply's.
void Site::refresh_own_ports() {
    scope_.own_rtnl_ports = port_->netlink_ports(NETLINK_ROUTE);
    scope_.own_xfrm_ports = port_->netlink_ports(NETLINK_XFRM);
}

ConvergeReport Site::apply_full(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0,
                               int settle) {
    ConvergeReport out;
    if (!u.plan.ok()) {
        for (const Error& e : u.plan.errors) log_("plan: " + e.str());
        out.plan_errors = u.plan.errors;
        out.line = "full apply (" + why + ") failed: the plan has errors";
        return out;
    }
    auto last = state_.load();
    if (!last) {
        out.line = "read the state directory: " + last.error().str();
        log_(out.line);
        out.applied.emplace().refused = last.error();
        return out;
    }
    SiteApplyOptions o{options_.config, options_.state_dir, options_.vici_socket, settle, false, {}};
    o.save = [&](const AppliedRecord& rec) { return save_applied(state_, rec, options_.config); };
    o.firewall = firewall_.get();
    auto kernel = [&](const nl::KernelState& d, const OwnedScope& scope) {
        return reconciler_.apply_full(d, scope, false);
    };
    SiteApplyResult& r = out.applied.emplace(apply_site(*intent_, u.plan.state, *last, *port_, kernel, o));
    for (const std::string& w : r.warnings) log_("warning: " + w);
    if (r.ipsec.kernel_rolled_back) reconciler_.forget();  // the image saw the apply, not its undo
    if (!r.ok()) {
        const Error& e = r.refused           ? *r.refused
                         : r.firewall.failure ? *r.firewall.failure
                         : r.kernel.failure   ? *r.kernel.failure
                         : r.ipsec.failure  ? *r.ipsec.failure
                                            : *r.record_failure;
        out.line = "full apply (" + why + ") failed: " + e.str();
        log_(out.line);
        planner_.forget();
        return out;
    }
    scope_.owned = r.record.owned;
    firewall_applied_ = r.firewall.applied_text;
    ipsec_ = u.plan.state.ipsec;
    wireguard_.reset(u.plan.state.wireguard);
    out.line = "full apply (" + why + "): " + summary(r.kernel.ops) + " in " + timing(ms_since(t0));
    log_(out.line);
    planner_.commit(std::move(u));
    out.ok = true;
    return out;
}

ConvergeReport Site::apply_change(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0) {
    ConvergeReport out;
    // The firewall first, as in a full apply; an unchanged table (it
    // renders the same commands) is not touched, so its counters run on.
    FirewallOutcome fw_change;
    auto rendered = [](const std::optional<fw::FirewallTable>& t) { return t ? fw::render_firewall_json(*t) : ""; };
    // The planner handed back the committed table itself (its inputs did not
    // change, firewall_plan.hpp): equal without rendering both (12–30 ms each
    // at 10,000 members, bench_firewall_plan).
    const planner::SitePieces* before = planner_.committed();
    // The uplink guard (the input chain) follows the active uplink, and the
    // shortcut watch the roles and hub lists, both outside the reused part,
    // so they are compared on their own.
    auto guard = [](const std::optional<fw::FirewallTable>& t) {
        std::string text;
        if (t)
            for (const fw::Rule& r : t->input) text += fw::rule_text(r) + "\n";
        return text;
    };
    auto watch = [](const std::optional<fw::FirewallTable>& t) {
        return t ? t->shortcut_watch : std::vector<fw::ShortcutWatch>{};
    };
    bool same_table = before && before->allocations.firewall &&
                      before->allocations.firewall == u.pieces.allocations.firewall &&
                      guard(before->shared.firewall) == guard(u.want.firewall) &&
                      watch(before->shared.firewall) == watch(u.want.firewall);
    if (!same_table && rendered(u.want.firewall) != rendered(u.was.firewall)) {
        fw_change = install_firewall(*firewall_, u.want.firewall, "", false);
        if (fw_change.failure) {
            out.line = "change (" + why + ") failed: " + fw_change.failure->str() + "; nothing changed";
            log_(out.line);
            planner_.forget();
            return out;
        }
    }
    ApplyReport& r = out.change = reconciler_.apply_delta(u.want, u.was, false);
    if (r.failure) {
        undo_firewall(*firewall_, fw_change);
        bool undone = r.undo_failures.empty() && !fw_change.undo_failure;
        out.line = "change (" + why + ") failed: " + r.failure->str() + (undone ? "; undone" : "");
        log_(out.line);
        planner_.forget();
        return out;
    }
    if (fw_change.changed()) {
        firewall_applied_ = fw_change.applied_text;
        Status saved = firewall_applied_.empty() ? state_.remove_file(kFirewallAppliedFile)
                                                 : state_.write_file(kFirewallAppliedFile, firewall_applied_);
        if (!saved) log_("save the firewall's record: " + saved.error().str());
    }
    // `want` holds the whole site-wide part: every interface, every table's
    // group route, every charon connection.
    AppliedRecord rec = record_of(*intent_, u.want, options_.config);
    if (Status s = save_applied(state_, rec, options_.config); !s) log_("save the state: " + s.error().str());
    scope_.owned = rec.owned;
    ipsec_ = u.want.ipsec;
    wireguard_.apply(u.want.wireguard, u.was.wireguard);
    out.line = "change (" + why + "): " + std::to_string(u.peers_changed) + " peers changed, " + summary(r.ops) +
               " in " + timing(ms_since(t0));
    log_(out.line);
    planner_.commit(std::move(u));
    out.ok = true;
    return out;
}

bool Site::converge(bool full, const std::string& why) { return converge_report(full, why).ok; }

ConvergeReport Site::converge_report(bool full, const std::string& why, int settle) {
    if (idle_) {  // after down: nothing to keep converged until apply or reload
        ConvergeReport r;
        r.ok = true;
        return r;
    }
    // Held key-exchange work first, in a converge of its own: this one (an
    // apply, a resync) then reports only its own changes, and an `avpnctl
    // apply` of an unchanged file says 0 whatever the handshakes are doing.
    if (keying_hold_.due_at()) flush_keying();
    if (settle < 0) settle = options_.settle_seconds;
    auto t0 = Clock::now();
    auto read = read_inputs(full || !reconciler_.has_image());
    if (!read) {  // nothing is planned from a read that failed, nothing applied
        ConvergeReport r;
        r.line = (full ? "full apply (" : "change (") + why + ") failed: " + read.error().str();
        log_(r.line);
        last_ok_ = false;
        wireguard_.clear();
        finish_converge(false, r.line, t0);
        return r;
    }
    PlanInputs& inputs = *read;
    note_uplinks(inputs.uplink_addresses);
    keying_->add_inputs(inputs);
    if (full || !reconciler_.has_image()) planner_.forget();
    IncrementalPlanner::Update u = planner_.update(*intent_, inputs);
    // charon's part has no image, and the image holds links as avpn asked
    // for them (not which WireGuard implementation the kernel gave): a change
    // to either goes through a full apply, which reads them back.
    if (!u.full && (u.want.ipsec != u.was.ipsec || u.want.links != u.was.links)) {
        planner_.forget();
        u = planner_.update(*intent_, inputs);
    }
    // The XFRM groups' sockets before any kernel write: a port held by
    // someone else fails this converge with the kernel untouched. What it
    // opened is closed again if the apply fails, what the intent no longer
    // has once it succeeds.
    std::vector<EspSocketWant> sockets_before = esp_.held(), sockets_want = esp_sockets_of(*intent_);
    ConvergeReport r;
    if (Status s = (u.full && !u.plan.ok()) ? Status{} : open_esp_sockets(sockets_want, sockets_before); !s) {
        r.line = std::string(u.full ? "full apply" : "change") + " (" + why + ") failed: " + s.error().str();
        log_(r.line);
        r.applied.emplace().refused = s.error();
        planner_.forget();
        last_ok_ = false;
        finish_converge(false, r.line, t0);
        return r;
    }
    r = u.full ? apply_full(u, why, t0, settle) : apply_change(u, why, t0);
    close_esp_sockets(r.ok ? sockets_want : sockets_before);
    if (r.ok) configure_keying(full || u.full);
    if (r.ok) configure_registry(full || u.full);
    if (r.ok) note_failover_applied();
    last_ok_ = r.ok;
    refresh_own_ports();
    if (!last_ok_) wireguard_.clear();  // nothing to compare with until an apply succeeds
    // An incremental change that cannot be done in place (an interface to
    // replace) is done in full right away.
    if (!r.ok && !full && !u.full) return converge_report(true, why + ", in full", settle);
    finish_converge(r.ok, r.line, t0);
    return r;
}

Status Site::open_esp_sockets(const std::vector<EspSocketWant>& want, const std::vector<EspSocketWant>& held) {
    if (Status s = esp_.open(want); !s) return s;
    for (const EspSocketWant& w : want)
        if (!std::binary_search(held.begin(), held.end(), w)) log_("esp-in-udp: holding " + describe(w));
    return {};
}

void Site::close_esp_sockets(const std::vector<EspSocketWant>& keep) {
    for (const EspSocketWant& w : esp_.held())
        if (!std::binary_search(keep.begin(), keep.end(), w)) log_("esp-in-udp: closed " + describe(w));
    esp_.keep_only(keep);
}

// The key exchange follows the committed plan: its XFRM groups and peers,
// re-read in full (key files included: a new key restarts the group's
// sessions) at every full apply, else only when they changed.
void Site::configure_keying(bool full) {
    const planner::SitePieces* committed = planner_.committed();
    std::vector<planner::KeyingGroupView> views = committed ? planner::keying_views(*committed)
                                                            : std::vector<planner::KeyingGroupView>{};
    if (!full && views == keyed_) return;
    for (const Error& e : keying_->configure(views)) log_("xfrm: " + e.str());
    keyed_ = std::move(views);
    watch_expiries();
}

std::vector<int> Site::keying_fds() const {
    std::vector<int> fds;
    for (const auto& [want, socket] : esp_.sockets()) fds.push_back(socket.fd());
    return fds;
}

bool Site::keying_readable() {
    XfrmKeying::Work work;
    const auto now = keying::Clock::now();
    keying_backlog_ = false;
    std::vector<RegistryClients::Send> registry_sends;
    for (auto& [want, socket] : esp_.sockets()) {
        // Bounded per wakeup, so a flood cannot starve the loop's other work.
        int n = 0;
        for (; n < kKeyingReadBatch; ++n) {
            auto d = socket.receive();
            if (!d) {
                log_("xfrm: " + d.error().str());
                break;
            }
            if (!*d) break;
            if (is_registry((*d)->bytes)) {
                registry_.receive(want.group, (*d)->from, (*d)->bytes, now, registry_sends);
                continue;
            }
            work.merge(keying_->receive(want.group, want.path, (*d)->from, (*d)->bytes, now));
        }
        keying_backlog_ |= n == kKeyingReadBatch;
    }
    run_keying(std::move(work));
    return run_registry(std::move(registry_sends));
}

// While a read left datagrams waiting, the site's own initiations wait:
// they would add work and answers to a queue it is not keeping up with.
void Site::keying_tick() {
    if (!keyed_.empty()) run_keying(keying_->tick(keying::Clock::now(), keying_backlog_));
}

std::vector<XfrmKeying::PeerStatus> Site::keying_status() const { return keying_->status(keying::Clock::now()); }

// SAs first, then the messages that tell peers they are in place; work that
// changes SAs waits in keying_hold_ so many handshakes share one converge.
void Site::run_keying(XfrmKeying::Work&& work) {
    const int64_t now = int64_t(std::time(nullptr));
    for (const std::string& e : work.events) {
        log_("xfrm: " + e);
        // A peer's session coming up or going down is history; SA
        // bookkeeping is only logged.
        if (e.find(": up, epoch") != std::string::npos || e.find(": down (") != std::string::npos)
            events_.add(now, "peer", e);
    }
    work.events.clear();
    if (auto due = keying_hold_.add(std::move(work), Clock::now())) run_held(std::move(*due));
}

void Site::flush_keying() {
    if (keying_hold_.due_at()) run_held(keying_hold_.take());
}

void Site::run_held(XfrmKeying::Work&& work) {
    if (work.apply && !converge(false, "key exchange")) return;
    send_keying(work.sends);
}

void Site::send_keying(const std::vector<XfrmKeying::Send>& sends) {
    if (sends.empty()) return;
    // Once per batch, not per datagram: a busy hub sends hundreds at once.
    const std::optional<IpAddr> source[2] = {keying_source(Family::v4), keying_source(Family::v6)};
    for (const XfrmKeying::Send& s : sends) {
        keying::EspSocket* socket = nullptr;
        for (auto& [want, sock] : esp_.sockets())
            if (want.group == s.group && want.path == s.path && want.family == s.to.addr.family) socket = &sock;
        if (!socket) {
            log_("xfrm: " + s.group + ": no " + keying::family_name(s.to.addr.family) + " socket" +
                 (s.path ? " for path " + std::to_string(s.path) : "") + " to reach " + s.to.str());
            continue;
        }
        // Path i >= 1 leaves as its SAs do: from its own uplink.
        const std::optional<IpAddr> from =
            s.path ? keying_source(s.group, s.path, s.to.addr.family) : source[s.to.addr.family == Family::v6];
        if (Status st = socket->send(s.to, s.bytes, from); !st) log_("xfrm: " + st.error().str());
    }
}

void Site::retry_ipsec() {
    if (ipsec_.empty()) return;
    auto charon = connect_charon(options_.vici_socket);
    if (!charon) return log_("ipsec retry: " + charon.error().str());
    // Short: the event loop does nothing else meanwhile; a failure later than
    // this is seen at the next attempt.
    auto r = runtime::retry_ipsec(**charon, ipsec_, options_.state_dir, retry_, 3);
    if (!r) return log_("ipsec retry: " + r.error().str());
    for (const std::string& name : *r) {
        const auto& s = retry_.all().at(name);
        log_("ipsec: " + name + " has no IKE_SA: initiated (attempt " + std::to_string(s.attempts) + "; next in " +
             std::to_string(s.next_at - int64_t(std::time(nullptr))) + " s if it stays down)");
    }
}

std::optional<std::string> Site::firewall_drift() {
    if (idle_ || !last_ok_ || firewall_applied_.empty()) return std::nullopt;
    // The generation is read before the listing: a change in between
    // shows in the listing, one after it moves the generation again.
    std::optional<uint32_t> gen;
    if (!nfnl_)
        if (auto s = nl::Socket::open(NETLINK_NETFILTER, {64 << 10, 64 << 10, 2000})) nfnl_ = std::move(*s);
    if (nfnl_) {
        if (auto g = nl::nftables_generation(*nfnl_)) gen = *g;
        else nfnl_.reset();  // a fresh socket next time, not one with a reply left over
    }
    if (gen && firewall_checked_ && firewall_checked_->first == *gen && firewall_checked_->second == firewall_applied_)
        return std::nullopt;
    auto drift = runtime::firewall_drift(*firewall_, firewall_applied_);
    if (drift || !gen) firewall_checked_.reset();
    else firewall_checked_ = std::make_pair(*gen, firewall_applied_);
    return drift;
}

// Only the counters (one object per rule, over nfnetlink: nft_table.hpp),
// not the table's sets, so it stays cheap at 10,000 members. A failed read keeps
// the last figures; their timestamp says how old they are.
void Site::read_firewall_counters() {
    if (!has_firewall()) {
        firewall_counters_.clear();
        return;
    }
    auto c = firewall_->counters();
    if (!c) return;
    firewall_counters_ = std::move(*c);
    firewall_counters_at_ = int64_t(std::time(nullptr));
}

// The read keeps each device's peer counters too: status and the metrics
// show them from here, so a scrape reads no kernel (their age is at most
// the poll's interval).
std::optional<std::string> Site::wireguard_drift() {
    std::map<std::string, wg::WgDeviceStatus> seen;
    std::optional<std::string> drift;
    for (const std::string& ifname : wireguard_.interfaces()) {
        auto dev = port_->read_wireguard_status(ifname);
        if (!dev) {
            drift = ifname + ": " + dev.error().str();
            break;
        }
        if (auto d = wireguard_.difference(dev->device)) {
            drift = ifname + ": " + *d;
            break;
        }
        seen.emplace(ifname, std::move(*dev));
    }
    if (!drift) {
        const int64_t now = int64_t(std::time(nullptr));
        note_wireguard_peers(seen, now);
        if (const planner::SitePieces* committed = planner_.committed()) {
            auto roams = wireguard_roams(*committed, seen, now, wireguard_roams_);
            for (const auto& [key, at] : roams)
                if (auto old = wireguard_roams_.find(key); old == wireguard_roams_.end() || old->second != at)
                    log_("wireguard: " + key.first + "/" + key.second + " roamed to " + at.str() +
                         ": the plan follows it");
            for (const auto& [key, at] : wireguard_roams_)
                if (!roams.count(key))
                    log_("wireguard: " + key.first + "/" + key.second + " no longer at " + at.str() +
                         " with a live handshake: back to its contact");
            if (roams != wireguard_roams_) wireguard_roams_changed_ = true;
            wireguard_roams_ = std::move(roams);
        }
        wireguard_seen_ = std::move(seen);
        wireguard_seen_at_ = now;
    }
    return drift;
}

void Site::forget_retries() { ::unlink(retries_path(options_.state_dir).c_str()); }

}  // namespace avpn::runtime
