// The site runtime: one site kept converged over time. It holds the state
// directory's lock for its lifetime, the kernel port, the reconciler's kernel
// image and the incremental planner, and charon's part as last applied.
// avpnd drives it from its event loop (orchestrator/daemon); nothing here
// waits for events.
// - converge(full=false): a change that keeps every group's constants goes
//   through the incremental planner and the kernel image (only the changed
//   members' objects are planned, diffed and written); anything else, and
//   converge(full=true), is a full apply that reads the kernel back, repairs
//   drift and re-reads uplink addresses;
// - retry_ipsec(): IPsec initiators without an IKE_SA are initiated again
//   with back-off (retry.hpp): charon gives up after an authentication
//   failure, the peer may fix its side later. The schedule is in
//   <state-dir>/ipsec.retry for `avpnctl status`;
// - reap_wireguard_go(): the site's wireguard-go daemons are watched
//   (plugins/wireguard/supervisor.hpp); one that exited is restarted by the
//   next converge, logged and counted. Those running at open() are adopted,
//   never restarted;
// - wireguard_drift(): reads the owned WireGuard devices back and compares
//   them with what was last applied (wireguard_watch.hpp): WireGuard raises
//   no notification, so avpnd polls.
// - the ESP-in-UDP sockets of its XFRM groups (esp_sockets.hpp): opened by
//   the converge that first plans a group, before the kernel is written
//   (a port in use fails that apply with nothing changed), held across
//   converges, closed when the group goes and at down.
// - the XFRM key exchange on those sockets (xfrm_keying.hpp): keying_
//   readable() reads the handshakes' datagrams, keying_tick() runs the
//   peers' timers; when their SAs change the site converges (a change of
//   the peers concerned) and only then sends the handshake's next message.
//   Such work is held up to keying_hold_ms (keying_flush_at(), then
//   flush_keying()) so that a busy hub converges once for many handshakes.
// - the registry clients (registry_clients.hpp, site_registry.cpp): one per
//   group and registry on the group's tunnel port (an XFRM group's ESP-in-UDP
//   socket, a WireGuard group's shared port); the contacts they learn are
//   PlanInputs::contacts, and a change converges.
// A bad config on reload is reported and the running state kept.
//
// Through avpnd's control socket (site_control.cpp) the site is also changed
// on request, with the result returned as data for the reply: apply_file
// (the file becomes the config, converged in full), reload_report (SIGHUP's
// reload), down (everything removed; the site stays idle, applying nothing,
// until the next apply or reload) and roll_back_to (commit-confirm).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/plan/incremental.hpp"
#include "orchestrator/reconcile/netlink_port.hpp"
#include "orchestrator/reconcile/reconciler.hpp"
#include "orchestrator/reconcile/state_dir.hpp"
#include "orchestrator/runtime/config_snapshot.hpp"
#include "orchestrator/runtime/down.hpp"
#include "orchestrator/runtime/drift.hpp"
#include "orchestrator/runtime/esp_sockets.hpp"
#include "orchestrator/runtime/events.hpp"
#include "orchestrator/runtime/keying_hold.hpp"
#include "orchestrator/runtime/registry_clients.hpp"
#include "orchestrator/runtime/shortcut_keeper.hpp"
#include "netlink/socket.hpp"
#include "netlink/xfrm_expire.hpp"
#include "orchestrator/runtime/site_apply.hpp"
#include "orchestrator/runtime/status.hpp"
#include "orchestrator/runtime/uplink_prober.hpp"
#include "orchestrator/runtime/uplink_selector.hpp"
#include "orchestrator/runtime/wireguard_watch.hpp"
#include "orchestrator/runtime/xfrm_keying.hpp"
#include "plugins/firewall/nft_table.hpp"
#include "plugins/probe/icmp_echo.hpp"
#include "plugins/probe/hop_probe.hpp"
#include "plugins/registry/shared_port.hpp"
#include "plugins/vici/retry.hpp"
#include "plugins/wireguard/supervisor.hpp"

namespace avpn::runtime {

struct SiteOptions {
    std::string config;
    std::string state_dir;
    std::string vici_socket;
    int settle_seconds = 10;
    int retry_first = 5;  // seconds: first wait between re-initiations of a down IPsec initiator
    int retry_max = 300;  // ... doubling up to this
    // How long key-exchange work that changes SAs is held so that what
    // arrives meanwhile shares one converge (docs/xfrm-keying.md,
    // "Converges are coalesced"). 0: each wakeup's work converges at once.
    int keying_hold_ms = 100;
};

// One line per event; avpnd writes them to stderr for the journal.
using Log = std::function<void(const std::string&)>;

// What one converge did, for a reply (report/command_output.hpp renders it).
struct ConvergeReport {
    bool ok = false;
    Errors plan_errors;                      // the planner refused the intent
    std::optional<SiteApplyResult> applied;  // a full apply: kernel and charon
    ApplyReport change;                      // an incremental change: its ops
    std::string line;                        // as logged
};

// A configuration change asked for over the control socket.
struct ChangeReport {
    LoadedSite loaded;                       // the file's diagnostics
    std::optional<ConvergeReport> converge;  // absent when the file has errors
    bool ok() const { return converge && converge->ok; }
};

struct LastConverge {
    int64_t at = 0;  // unix time
    bool ok = false;
    std::string line;
};

class Site {
public:
    // Loads the configuration (its diagnostics go to log), takes the state
    // directory's lock and opens the kernel port. Nothing is applied yet.
    static Result<std::unique_ptr<Site>> open(const SiteOptions& options, Log log);

    bool reload();                                // re-reads the config; false: it has errors, the old one stays
    bool converge(bool full, const std::string& why);
    // settle_seconds < 0: the site's own.
    ConvergeReport converge_report(bool full, const std::string& why, int settle_seconds = -1);

    // site_control.cpp. On a failed apply the previous config stays in use.
    ChangeReport apply_file(const std::string& path, int settle_seconds);
    ChangeReport reload_report();
    DownReport down();
    // Back to `previous` (nullopt: nothing was applied before, so down).
    bool roll_back_to(const std::optional<ConfigSnapshot>& previous, const std::string& why, std::string& line);
    void retry_ipsec();                           // re-initiates down initiators that are due
    void forget_retries();                        // nobody retries once avpnd is gone
    int wireguard_go_fd() const { return wireguard_go_->fd(); }  // readable: a daemon exited
    bool reap_wireguard_go() { return wireguard_go_->reap(); }   // true: converge to restart it
    // How an owned WireGuard device differs from the last apply, in words;
    // nullopt when all hold (or nothing was applied). A device that cannot
    // be read counts as a difference.
    std::optional<std::string> wireguard_drift();
    // After a wireguard_drift() that found none: whether WireGuard peers
    // roamed from their planned endpoints, or back (wireguard_roams in
    // wireguard_watch.hpp); then a converge makes the plan follow them.
    bool take_wireguard_roams() { return std::exchange(wireguard_roams_changed_, false); }
    // How table inet avpn differs from the last apply (firewall_apply.hpp),
    // in words; nullopt when it holds or nothing was applied. nftables
    // changes come on a netlink group avpnd does not watch, so it polls.
    std::optional<std::string> firewall_drift();

    bool last_ok() const { return last_ok_; }
    bool idle() const { return idle_; }
    // What runs now; nullopt while idle.
    std::optional<ConfigSnapshot> running() const { return idle_ ? std::nullopt : std::optional(running_); }
    const std::optional<LastConverge>& last_converge() const { return last_converge_; }
    bool has_ipsec() const { return !ipsec_.empty(); }
    bool has_wireguard() const { return !wireguard_.empty(); }
    bool has_firewall() const { return !firewall_applied_.empty(); }
    const Intent& intent() const { return *intent_; }
    const SiteOptions& options() const { return options_; }
    const WatchScope& watch_scope() const { return scope_; }
    std::vector<EspSocketWant> esp_sockets() const { return esp_.held(); }
    // The ESP-in-UDP sockets to wait on, and what to do when they or the
    // key exchange's timers (at least once a second) are due.
    std::vector<int> keying_fds() const;
    bool has_xfrm() const { return !keyed_.empty(); }
    // True when registry datagrams among them changed the contacts (an
    // XFRM group's registry traffic shares its socket): a converge is due.
    bool keying_readable();
    void keying_tick();
    // When held key-exchange work is due (nullopt: none held), and running
    // it: one converge, then the held messages in the order they came.
    std::optional<std::chrono::steady_clock::time_point> keying_flush_at() const { return keying_hold_.due_at(); }
    void flush_keying();
    std::vector<XfrmKeying::PeerStatus> keying_status() const;
    size_t keying_rejected() const { return keying_->rejected(); }
    const std::string& keying_last_rejected() const { return keying_->last_rejected(); }
    // avpnctl rekey (site_control.cpp): XfrmKeying::rekey, and an error for a group of another transport.
    Result<std::vector<XfrmKeying::Rekeyed>> rekey(const std::string& group, const std::string& peer);
    // The kernel's SA expiries (site_expire.cpp), watched while the site
    // has XFRM groups: -1 when it has none. Readable: expire_readable()
    // hands avpn's expiries to the key exchange and carries out its work.
    int expire_fd() const { return expire_watch_ ? expire_watch_->fd() : -1; }
    void expire_readable();
    // For status and metrics (status.hpp, metrics.hpp): what avpnd holds in
    // memory, read without touching the kernel.
    const EventLog& events() const { return events_; }
    const ApplyStats& apply_stats() const { return stats_; }
    // Each uplink's address as the last converge read it (none: absent).
    const std::map<std::string, IpAddr>& uplink_addresses() const { return uplink_addresses_; }
    // Which uplinks are healthy and carry the tunnels (site_uplinks.cpp,
    // docs/uplinks.md); null before the first intent.
    const UplinkSelector* uplink_selector() const { return uplinks_.get(); }
    // When a held failback may fall due (nullopt: none is held), and the
    // check then: true when the tunnels are to move (a converge is due).
    std::optional<std::chrono::steady_clock::time_point> uplink_check_at() const;
    bool uplink_tick();
    // Probes through the uplinks (uplink_prober.hpp): the sockets to wait
    // on, when rounds or timeouts are due, and what to do then; each returns
    // true when the tunnels are to move (a converge is due).
    std::vector<int> probe_fds() const { return prober_.fds(); }
    std::optional<std::chrono::steady_clock::time_point> probe_at() const;
    bool probe_readable();
    bool probe_tick();
    const UplinkProber& uplink_prober() const { return prober_; }
    // The registry clients (site_registry.cpp, docs/registry.md "In
    // avpnd"): the WireGuard groups' shared ports to wait on (an XFRM
    // group's registry datagrams come through keying_readable), when the
    // clients' timers are next due, and what to do then; each returns true
    // when the contacts changed (a converge is due).
    std::vector<int> registry_fds() const;
    std::optional<std::chrono::steady_clock::time_point> registry_at() const;
    bool registry_readable();
    bool registry_tick();
    const RegistryClients& registry() const { return registry_; }
    // A WireGuard group whose shared port could not be opened: group -> why.
    const std::map<std::string, std::string>& registry_problems() const { return registry_problems_; }
    // Direct spoke-to-spoke shortcuts (site_shortcuts.cpp, docs/shortcuts.md):
    // whether any group of this site may have them, and the look due once a
    // second: the watch counters, the trying peers' handshakes, the up ones'
    // probes. True when the shortcuts changed (a converge is due).
    bool has_shortcuts() const;
    bool shortcut_tick();
    std::vector<ShortcutKeeper::Row> shortcut_status() const { return shortcuts_.status(Clock::now()); }
    // Uplinks whose probe socket could not be opened, with why.
    const std::map<std::string, std::string>& probe_problems() const { return probe_problems_; }
    // avpnd saw a kernel event about an uplink at `at`: the facts the next
    // converge reads count from then.
    void note_uplink_event(std::chrono::steady_clock::time_point at);
    // The last failover's interruption: from the failure (as the kernel
    // reported it) until the apply that moved the tunnels was done.
    std::optional<std::chrono::nanoseconds> last_failover() const { return last_failover_; }
    // The owned WireGuard devices with their peers' counters, as the last
    // poll that found no drift read them, and when (unix time; 0: never).
    const std::map<std::string, wg::WgDeviceStatus>& wireguard_seen() const { return wireguard_seen_; }
    int64_t wireguard_seen_at() const { return wireguard_seen_at_; }
    // table inet avpn's named counters as the last poll read them
    // (read_firewall_counters), for the metrics: a scrape reads no kernel.
    void read_firewall_counters();
    const fw::Counters& firewall_counters() const { return firewall_counters_; }
    int64_t firewall_counters_at() const { return firewall_counters_at_; }
    // The committed plan's pieces (peers by name with their inputs); null
    // before the first successful apply.
    const planner::SitePieces* committed() const { return planner_.committed(); }
    // Each XFRM peer's SA counters, by (group, peer): one dump of avpn's SAs.
    Result<std::map<std::pair<std::string, std::string>, SaCounters>> xfrm_sa_counters() const;

private:
    using Clock = std::chrono::steady_clock;
    Site(const SiteOptions& o, Log log, std::unique_ptr<NetlinkPort> port);

    void use(Intent intent);
    std::optional<Intent> load_logged(SnapshotLoad& l);  // logs the diagnostics
    ConvergeReport apply_full(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0, int settle);
    ConvergeReport apply_change(IncrementalPlanner::Update& u, const std::string& why, Clock::time_point t0);
    void refresh_own_ports();
    Status open_esp_sockets(const std::vector<EspSocketWant>& want, const std::vector<EspSocketWant>& held);
    void close_esp_sockets(const std::vector<EspSocketWant>& keep);  // and logs each closed one
    void configure_keying(bool full);
    void run_keying(XfrmKeying::Work&& work);
    void run_held(XfrmKeying::Work&& work);  // converge if it changes SAs, then its sends
    void send_keying(const std::vector<XfrmKeying::Send>& sends);
    void watch_expiries();  // opens or closes the watch as keyed_ has groups or not
    XfrmKeying::Work take_expire(const nl::XfrmExpire& e, keying::Time now);
    XfrmKeying::Work resync_expiries(keying::Time now);
    void finish_converge(bool ok, const std::string& line, Clock::time_point t0);
    void note_uplinks(const std::map<std::string, IpAddr>& addresses);
    // site_uplinks.cpp
    Result<PlanInputs> read_inputs(bool full);  // the uplinks' facts fed to the selector, and the plan's inputs
    void follow_intent_uplinks();
    void feed_uplinks(const std::map<std::string, UplinkFacts>& facts);
    void note_uplink_switches();
    void note_failover_applied();
    void sweep_conntrack();  // after an applied switch: the tunnels' stale entries (conntrack_sweep.hpp)
    bool feed_probes(const UplinkProber::Verdicts& verdicts);
    // The address the key exchange's messages leave from: the SAs' local
    // address (the active uplink's while the plan steers, else the first
    // uplink's with an address of `family`), so a peer sees them come from
    // where its SAs go and does not roam its SAs elsewhere (a hub whose
    // route out is another interface than its contact's). nullopt: none.
    std::optional<IpAddr> keying_source(Family family) const;
    // Path i >= 1 of an active-active XFRM group sends from the address its
    // SAs use (the committed plan's path_uplinks); path 0 as keying_source.
    std::optional<IpAddr> keying_source(const std::string& group, uint8_t path, Family family) const;
    void open_probes();
    void configure_registry(bool full);
    void mark_shared_ports();
    void follow_uplink();
    // Sends and logs; run_registry also says whether the contacts changed
    // since they were last taken (a converge is due).
    bool run_registry(std::vector<RegistryClients::Send>&& sends);
    void send_registry(std::vector<RegistryClients::Send>&& sends);
    static bool is_registry(ByteView datagram);
    void note_wireguard_peers(const std::map<std::string, wg::WgDeviceStatus>& seen, int64_t now);
    // site_shortcuts.cpp
    std::map<ShortcutKeeper::Key, ShortcutSeen> look_at_shortcuts();
    void send_shortcut_probes();
    void send_shortcut_openers();
    // site_nat_hops.cpp: the openers' TTL per group, from a one-round
    // traceroute (probe::HopProbe) through the uplink in use. Until it is
    // known, or when no router answers: past a NAT one hop out (this
    // router's upstream, as a site router behind a modem), dead at the next
    // router, short of the other end's NAT (docs/shortcuts.md, "The punch").
    static constexpr int kOpenerHops = 2;
    void probe_nat_hops();
    int opener_hops(const std::string& group) const;

    SiteOptions options_;
    Log log_;
    StateDir state_;
    std::unique_ptr<NetlinkPort> port_;
    Reconciler reconciler_;
    IncrementalPlanner planner_;
    std::optional<Intent> intent_;
    WatchScope scope_;
    bool last_ok_ = false;
    bool idle_ = false;           // after down(): converge does nothing
    ConfigSnapshot running_;      // the texts intent_ was loaded from
    std::optional<LastConverge> last_converge_;
    std::vector<vici::Connection> ipsec_;  // charon's part as last applied
    WireguardExpectation wireguard_;       // the WireGuard devices as last applied
    vici::RetrySchedule retry_;
    std::shared_ptr<wg::Supervisor> wireguard_go_;  // shared with the port, which starts and adopts
    EspSockets esp_;                                // the XFRM groups' ESP-in-UDP sockets
    std::shared_ptr<XfrmKeying> keying_;            // shared with the port, which asks it for SA keys
    std::vector<planner::KeyingGroupView> keyed_;   // what keying_ was configured with
    std::optional<nl::ExpireWatch> expire_watch_;   // while keyed_ has groups
    KeyingHold keying_hold_;                        // SA-changing work waiting for its converge
    static constexpr int kKeyingReadBatch = 256;    // datagrams per socket per wakeup
    bool keying_backlog_ = false;                   // the last read left datagrams waiting
    std::unique_ptr<fw::NftTable> firewall_;        // table inet avpn
    std::string firewall_applied_;                  // FirewallOutcome::applied_text of the last install
    EventLog events_;
    ApplyStats stats_;
    std::map<std::string, IpAddr> uplink_addresses_;
    bool uplinks_read_ = false;
    std::unique_ptr<UplinkSelector> uplinks_;
    std::optional<std::map<std::string, UplinkFacts>> uplink_facts_;  // as last read
    std::vector<std::string> uplink_facts_names_;                     // the names read
    UplinkSelectorMode uplink_mode_;
    uint64_t uplink_switches_seen_ = 0;  // UplinkSelector::recorded() already logged
    std::optional<Clock::time_point> uplink_event_at_;  // the first uplink event since the last read
    std::optional<UplinkSwitch> failover_to_apply_;     // a failover the next successful apply completes
    bool announce_to_apply_ = false;  // an uplink switch: tell the XFRM peers once it is applied
    std::optional<std::chrono::nanoseconds> last_failover_;
    // A switch the next successful apply completes: the uplink the tunnels
    // moved to (empty: none), and every uplink address known before it, so
    // entries of an address the old uplink has lost still count as avpn's.
    std::optional<std::string> sweep_to_;
    std::set<IpAddr> sweep_addresses_;
    bool conntrack_unavailable_logged_ = false;
    RegistryClients registry_;
    std::map<std::pair<std::string, Family>, registry::SharedPort> shared_ports_;  // WireGuard groups'
    std::map<std::string, std::string> registry_problems_;
    std::string registry_send_error_;  // the last one logged: one line per new error, not per datagram
    Clock::time_point registry_tick_at_{};
    static constexpr std::chrono::milliseconds kRegistryTick{250};
    UplinkProber prober_;
    std::map<std::string, std::string> probe_problems_;  // logged socket errors, by uplink
    std::map<std::string, wg::WgDeviceStatus> wireguard_seen_;
    int64_t wireguard_seen_at_ = 0;
    std::map<std::pair<std::string, std::string>, Endpoint> wireguard_roams_;  // PlanInputs::roamed, WireGuard's
    bool wireguard_roams_changed_ = false;
    // The nftables generation at which the table last listed as applied
    // (firewall_drift), and that applied text: the 0.8 s listing of a
    // 10,000-member table is skipped while neither moves.
    std::optional<nl::Socket> nfnl_;
    std::optional<std::pair<uint32_t, std::string>> firewall_checked_;
    fw::Counters firewall_counters_;
    int64_t firewall_counters_at_ = 0;
    ShortcutKeeper shortcuts_;
    std::map<std::string, probe::IcmpEchoSocket> shortcut_probes_;  // by group, while it has an up shortcut
    std::map<ShortcutKeeper::Key, uint16_t> shortcut_probe_sent_;   // the round in flight: its sequence
    uint16_t shortcut_seq_ = 0;
    std::string shortcut_error_;  // the last one logged
    struct NatHops {
        std::string uplink;  // "uplink/address" it was measured through
        std::optional<probe::HopProbe> running;
        Clock::time_point started{};
        std::optional<int> ttl;  // the openers' TTL found; nullopt: kOpenerHops
    };
    std::map<std::string, NatHops> nat_hops_;  // by group
};

}  // namespace avpn::runtime
